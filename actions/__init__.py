"""rasa_sdk actions. Thin: each calls into knowledge/ or casebook/."""
