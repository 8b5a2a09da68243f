"""Business Porvoo enquiry assistant: NLU, routing and dialogue on Rasa file formats."""

__version__ = "0.1.0"
