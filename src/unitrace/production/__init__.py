"""Production: bill of materials, routes and step results, genealogy trace, recalls, quality."""
