"""`edgevlm serve`: an OpenAI-compatible endpoint on a device (edgevlm-serve), forwarded to this machine."""
