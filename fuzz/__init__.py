"""Coverage-guided fuzz targets for the parsers (issue 7 §2); see fuzz/README.md."""
