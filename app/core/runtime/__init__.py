"""Model hosts: each loaded GGUF model runs in its own child process."""
