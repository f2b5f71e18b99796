"""Loopback emulators for the `local` profile. Knows nothing of the pipeline's stages."""
