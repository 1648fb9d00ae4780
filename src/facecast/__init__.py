"""facecast: recast face datasets with synthetic identities, and prove the result."""

__version__ = "0.1.0"
