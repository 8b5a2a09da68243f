"""Natural-language understanding: text in, parse result out (language, intents, entities)."""
