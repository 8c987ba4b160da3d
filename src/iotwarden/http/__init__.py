"""HTTP guards shared by every feature: errors, headers, input types, pagination."""
