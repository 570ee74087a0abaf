"""Built-in plugins: fairaudit registers its own heads, splits, datasets, extractors and quality
measures through the same hooks as third-party plugins."""
