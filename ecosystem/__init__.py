"""The shared kernel of the innovation region platform."""
