import asyncio
from tests.test_dialogue_matters import FORM, TERRACE, say, texts_of
from tests.test_dialogue_status import ASK, MY_EMAIL

def test_debug(agent):
    for lang in ["fi", "sv", "en"]:
        s = f"dbg-{lang}"
        say(agent, s, TERRACE[lang], "/affirm", *FORM[lang], "/affirm")
        for text in [ASK[lang], MY_EMAIL[lang].format(email="x@example.fi")]:
            r = texts_of(say(agent, s, text))
            t = agent.tracker(s)
            print(lang, repr(text), t.latest_message.get("intent"), r[:100])
        s = f"dbg2-{lang}"
        for text in [ASK[lang], MY_EMAIL[lang].format(email="x@example.fi")]:
            r = texts_of(say(agent, s, text))
            t = agent.tracker(s)
            print(lang, repr(text), t.latest_message.get("intent"), r[:100])
