"""Results on disk and on screen: atomic files, console tables and progress, figures (the bottom layer)."""
