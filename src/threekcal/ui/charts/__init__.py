"""Plotly figures (and the frames behind them) of the web app, one module per page; no Streamlit here.

- :mod:`.common`: colours, layout and the confusion heatmap shared by the Statistics and Models pages;
- :mod:`.home`: the data-flow diagram of the Home page;
- :mod:`.comment`: one comment's class probabilities (Upload, Label and Annotate pages);
- :mod:`.statistics`: every figure and table of the Statistics page, from ``GET /stats`` only;
- :mod:`.models`: the Models page's comparison of a candidate with the active model.
"""
