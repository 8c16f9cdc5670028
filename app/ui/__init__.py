"""The PySide6 desktop app. Qt is imported only through `app.ui.qt`; core work runs in workers."""
