"""The app's screens: the main view and its modal dialogs."""
