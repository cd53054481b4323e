"""The Streamlit web app: ``app.py`` routes to the pages in ``pages/``; the logic they use lives here."""
