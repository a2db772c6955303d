"""One module per pipeline stage; each wires resources to `core` logic."""
