"""Which language a message is written in (lingua-language-detector, offline; built once per process)."""
