"""The edge: Chalice blueprints, one module per channel or trigger. Thin: parse, call shared/, map."""
