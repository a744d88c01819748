"""berthd's image service: references resolved, imports, the built-in images, API views."""
