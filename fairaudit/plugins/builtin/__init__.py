"""Built-in plugins: fairaudit registers its own heads, splits, datasets and extractors through
the same hooks as third-party plugins."""
