"""The risk assessment: which crisis a message (read with the conversation so far) shows, and how urgent.

`assess.RiskAssessor` combines the lexicon floor (assistant.safety.screen), a learned model over character
n-grams, morphemes and multilingual e5 embeddings (`model.RiskModel`, trained by `train.py` from
assistant/safety/data), stated ages (assistant.safety.youth_cues) and, in the action server, the NLU intent.
It needs no Rasa, index, LLM or database: the gateway runs it on every message before anything else.
"""
