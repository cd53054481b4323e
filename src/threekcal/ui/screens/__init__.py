"""The pages of the web app, one script each, run by ``st.navigation`` in ``app.py``.

Not named ``pages/``: Streamlit treats a ``pages/`` folder next to the entry file as an old-style
multipage app and serves ``/statistics`` by running ``pages/statistics.py`` directly, without the
entry file (no language switch, no page setup).
"""
