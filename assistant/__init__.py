"""The ground the other packages stand on (core, safety, store, web), the Rasa project, and the `dasi`
command at the top; ARCHITECTURE.md draws the layers.

Nothing is imported at package level: the Rasa virtualenv (Python 3.10) imports
`assistant.rasa_project.kiwi_tokenizer` and must not pull in the app virtualenv's dependencies.
"""
