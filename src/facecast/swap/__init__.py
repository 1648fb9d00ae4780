"""Rendering faces as their cast identity; its geometry (warps) is shared with sample and cast."""
