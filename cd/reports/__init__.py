"""Static HTML reports (gate, monitor, lineage): self-contained pages with inline SVG charts."""
