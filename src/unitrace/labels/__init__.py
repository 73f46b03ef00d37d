"""Labels: templates (what a label shows, where), rendering to PDF, ZPL, PNG and SVG, and print
runs (`runs`): the labels of a lot, a list of serials, a carton or pallet, or of one commission
event — streamed in chunks, in the background, with their progress; reprints say why, in the
audit trail."""
