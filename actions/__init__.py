"""Custom actions of the Business Porvoo assistant, written with rasa-sdk."""
