"""Weekly reports: data (pure), PDF rendering, delivery and the Monday schedule."""
