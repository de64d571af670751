"""The Rasa project, the Korean tokenizer component, the safety screen, settings and the `dasi` command.

Nothing here may be imported at package level: the Rasa virtualenv imports
`assistant.kiwi_tokenizer` and must not pull in the main virtualenv's dependencies.
"""
