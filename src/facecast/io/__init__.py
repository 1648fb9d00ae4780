"""Reading clips (video files or folders of numbered images) and writing outputs atomically."""
