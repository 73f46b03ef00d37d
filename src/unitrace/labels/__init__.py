"""Labels: templates, rendering (PDF sheets, ZPL II) and print runs.

`runs` prints the labels of a lot, a list of serials, a carton or pallet, or what one
commission event made — streamed in chunks, in the background, with its progress in the run's
row; reprints say why, in the audit trail.
"""
