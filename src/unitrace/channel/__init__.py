"""The channel: shipments to parties, item-level inventory and diversion (窜货) detection."""
