"""The Discord shell: one extension per feature, thin translators over the core in `bot/`."""
