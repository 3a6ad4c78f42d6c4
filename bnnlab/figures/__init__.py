"""Plotly figure builders: arrays in, `go.Figure` out. One module per chapter."""
