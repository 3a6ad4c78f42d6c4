"""The data layer: the toy 2-D sets (`toy`), uploaded CSV files (`upload`), the shipped 8×8
digits (`digits`, rendered like `render`), out-of-distribution images (`ood`) and the drawing
canvas's strokes (`drawing`). `spec` says what a dataset compiles into the engine."""
