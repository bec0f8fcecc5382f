"""Scene quality: does the extracted beat show what the message tells? Scored per field, per path.

    .venv/bin/python bench/scene_quality.py [--limit N] [--paths rules,model] [--json out.json] [--show]

Runs the cases below (CASES and the held-out ones: persona messages from varied genres,
written for the test, plus the demo persona's greetings) through the app's own
scene pipeline on a throwaway SQLite database with the real migrations:
``gather_context`` over the stored conversation, then ``beat_assemble`` with

* ``rules``: no model answer (the lexicon fallback every beat falls back to);
* ``model``: ``scene_model_ask`` on the configured backend (``LLM_BACKEND``:
  the embedded SmolLM2 by default), its answer checked against the story.

Per field, the share of cases right: setting (the place kit the previz draws is
one expected), lighting (one of the acceptable ones), time of day, weather,
who is on screen, action words (share of expected words found in the action),
and placeholders (fields holding schema or template text: must be 0). Targets
(issue 15): setting and lighting >= 90 %, action words >= 80 %, 0 placeholders.
Prints a JSON summary and Markdown rows for bench/README.md.
(Over 400 lines: mostly the cases, kept next to the run so the script reads and runs alone.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
_DB = Path(tempfile.mkdtemp(prefix="scene-quality-")) / "bench.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{_DB}"

import django  # noqa: E402

django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from companion.chat.models import Conversation, Message  # noqa: E402
from companion.chat.services import message_create  # noqa: E402
from companion.evolve.scenes import (  # noqa: E402
    beat_assemble,
    beat_problems,
    beat_seed,
    gather_context,
    lexicon,
    scene_model_ask,
)
from personas.demo import DEMO_FIELDS  # noqa: E402
from personas.models import Persona  # noqa: E402
from rendering.renderers import scenery  # noqa: E402

# --- the cases ---------------------------------------------------------------------------------
# Written for the benchmark (and the demo persona's own greetings), across genres and writing styles:
# roleplay *actions* with speech, novel-style narration with quotes, first person, pure dialogue, emoji.
# Some cases carry the scene over from earlier turns (the message itself names no place, time or weather).
# Each: persona key, earlier turns (role, text), the message, and what a person sees in it: acceptable
# place kits (rendering.renderers.scenery: what the previz draws), acceptable lightings, time of day,
# weather, who is on screen, and words the action must contain (lower case).

PERSONAS: dict[str, dict] = {
    "mira": {k: DEMO_FIELDS[k] for k in ("name", "description", "personality", "scenario", "greeting",
                                         "appearance", "wardrobe", "style_tags")},
    "ash": dict(name="Ash", appearance="adult man, forties, stubble, grey fedora",
                scenario="A rain-slick night in the city; {{char}}'s office sits above a jazz club."),
    "lyra": dict(name="Lyra", appearance="adult elf woman, silver braid, green cloak",
                 scenario="Deep in the Greywood at twilight, {{char}} guides {{user}} along the old ranger paths."),
    "vega": dict(name="Vega", appearance="adult woman, cropped blue hair, flight jacket",
                 scenario="The bridge of the freighter Kestrel, drifting past the rings of Saturn."),
    "theo": dict(name="Theo", appearance="adult man, curly hair, apron",
                 scenario="A sleepy Sunday morning at the Bean There café, where {{char}} works the counter."),
    "rosa": dict(name="Rosa", appearance="adult woman, sun-bleached hair, wetsuit", scenario=""),
    "wren": dict(name="Wren", appearance="adult woman, round glasses, cardigan",
                 scenario="Closing time at the university library; snow is falling outside."),
    "bram": dict(name="Bram", appearance="adult man, red beard, leather apron",
                 scenario="The Gilded Goose tavern on a winter night, the fire roaring."),
    "kit": dict(name="Kit", appearance="adult woman, freckles, messy bun",
                scenario="A lazy evening at {{char}}'s apartment."),
    "juno": dict(name="Juno", appearance="adult woman, climbing harness, braided hair",
                 scenario="Base camp below the summit ridge, the morning of the climb."),
    "hana": dict(name="Hana", appearance="adult woman, bob haircut, wool coat",
                 scenario="The night train from Vienna to Venice; {{char}} and {{user}} share a compartment."),
    "ray": dict(name="Ray", appearance="adult man, sunglasses, denim jacket",
                scenario="A road trip down the coast in {{char}}'s old convertible."),
    "oona": dict(name="Oona", appearance="adult woman, pale, long black dress",
                 scenario="An abandoned manor on the moors; fog at midnight."),
    "sol": dict(name="Sol", appearance="adult man, desert robes, dark eyes", scenario="Crossing the dunes by day."),
    "ivy": dict(name="Ivy", appearance="adult woman, dungarees, tattoos",
                scenario="{{char}}'s rooftop garden above the city, on a warm afternoon."),
    "nell": dict(name="Nell", appearance="adult woman, apron, flour on her cheek", scenario=""),
    "marco": dict(name="Marco", appearance="adult man, chef whites, tattooed forearms",
                  scenario="The kitchen of {{char}}'s trattoria in Naples, Friday night rush."),
    "selene": dict(name="Selene", appearance="adult woman, star-patterned robe, long dark hair",
                   scenario="{{char}} is an astronomer; the observatory dome on a clear mountain night."),
    "dex": dict(name="Dex", appearance="adult man, cyberpunk jacket, neon-lit visor",
                scenario="Neo-Kowloon, 2089. Endless rain, holograms, noodle stalls."),
    "aoife": dict(name="Aoife", appearance="adult woman, red hair, wool sweater",
                  scenario="A fishing village on the west coast of Ireland."),
    "gideon": dict(name="Gideon", appearance="adult man, knight's armour, scarred cheek", scenario=""),
    "pip": dict(name="Pip", appearance="adult woman, overalls, paint-splattered",
                scenario="{{char}}'s art studio in a converted warehouse."),
}

NIGHT_INDOOR = {"candlelight", "moonlight", "firelight"}


def case(persona, message, *, kits, lighting, time, weather="clear", action=(), before=(), on_screen=None):
    return {
        "persona": persona, "before": list(before), "message": message, "kits": set(kits),
        "lighting": {lighting} if isinstance(lighting, str) else set(lighting),
        "time": {time} if isinstance(time, str) else set(time), "weather": weather,
        "on_screen": on_screen, "action": list(action),
    }


CASES: list[dict] = [
    # --- the demo persona (Mira Vale, a stormy night in the lighthouse) -------------------------------------------
    case("mira", DEMO_FIELDS["greeting"], kits={"lamp_room"}, lighting="rainy_night", time="night",
         weather="storm", action=["looks up", "chart", "mugs"]),
    case("mira", DEMO_FIELDS["alternate_greetings"][0], kits={"lamp_room", "lighthouse"},
         lighting={"rainy_night", "overcast"}, time={"night", "day"}, weather="storm", action=["lowers", "spyglass"]),
    case("mira", "*Mira laughs and taps the chart with an inky finger.* \"Then you're in the right place.\"",
         before=[("persona", DEMO_FIELDS["greeting"]), ("user", "I know nothing about tides, honestly.")],
         kits={"lamp_room"}, lighting="rainy_night", time="night", weather="storm", action=["laughs", "taps", "chart"]),
    case("mira", "No worries! 😂 Tides are easy once you've watched them for thirty winters.",
         before=[("persona", DEMO_FIELDS["greeting"]), ("user", "Sorry, I spilled the ink...")],
         kits={"lamp_room"}, lighting="rainy_night", time="night", weather="storm", action=["mira"]),
    case("mira", "*She pulls on her oilskin and leads you down the spiral stairs to the harbour, rain lashing "
         "the quay.* \"Stay close to the wall.\"",
         before=[("persona", DEMO_FIELDS["greeting"]), ("user", "Can we go and check on the boats?")],
         kits={"harbour"}, lighting="rainy_night", time="night", weather="storm", action=["leads", "stairs"]),
    case("mira", "*By dawn the storm has passed. Mira stands on the gallery outside the lamp room, watching the "
         "sun come up over a flat grey sea.*", before=[("persona", DEMO_FIELDS["greeting"])],
         kits={"lighthouse", "lamp_room"}, lighting={"golden_hour", "overcast", "daylight"}, time="dawn",
         weather="clear", action=["stands", "watching"]),

    # --- noir -----------------------------------------------------------------------------------------------------
    case("ash", "*Ash leans back in his creaking chair, feet on the desk, and lights a cigarette under the "
         "green lamp.* \"You've got the look of trouble, kid.\"", kits={"room"}, lighting={"rainy_night"},
         time="night", weather="rain", action=["leans back", "cigarette"]),
    case("ash", "Rain hammers the window. Ash pulls the blinds down and checks his revolver. \"Somebody followed "
         "you here.\"", kits={"room"}, lighting="rainy_night", time="night", weather="rain",
         action=["pulls", "blinds", "revolver"]),
    case("ash", "*He turns up his collar and steps out into the alley behind the club, neon buzzing overhead.*",
         kits={"street"}, lighting="neon", time="night", weather="rain", action=["collar", "steps out", "alley"]),
    case("ash", "We walk the wet streets until the city lights blur. I stop under a streetlamp and hand you my "
         "card.", kits={"street"}, lighting={"rainy_night", "neon"}, time="night", weather="rain",
         action=["stops", "streetlamp", "card"]),

    # --- fantasy --------------------------------------------------------------------------------------------------
    case("lyra", "*Lyra kneels by the stream and fills her waterskin, her silver braid falling over her "
         "shoulder.*", kits={"forest", "field"}, lighting="golden_hour", time="dusk", action=["kneels", "stream"]),
    case("lyra", "\"Quiet,\" Lyra whispers, drawing an arrow. Fog curls between the ancient trees.",
         kits={"forest"}, lighting={"golden_hour", "overcast"}, time="dusk", weather="fog",
         action=["drawing", "arrow"]),
    case("lyra", "*She climbs onto a mossy boulder and points north, where the mountains rise above the "
         "forest.* \"Three days' walk.\"", kits={"forest", "mountain"}, lighting="golden_hour", time="dusk",
         action=["climbs", "points"]),
    case("lyra", "*Lyra builds a small campfire in the clearing and sits cross-legged beside it as the stars "
         "come out.*", kits={"forest", "field"}, lighting="firelight", time="night", action=["builds", "campfire"]),
    case("bram", "*Bram slams two tankards of ale on the bar and grins through his red beard.* \"First round's "
         "on the house!\"", kits={"cafe"}, lighting="firelight", time="night", action=["tankards", "grins"]),
    case("bram", "*He throws another log on the fire and pulls a stool closer for you.* \"Snow's burying the "
         "road. You'll stay the night.\"", kits={"cafe"}, lighting="firelight", time="night", weather="snow",
         action=["log", "fire", "stool"]),
    case("bram", "*Bram steps outside into the snowy courtyard to fetch firewood, lantern in hand.*",
         kits={"field", "cafe"}, lighting={"moonlight", "firelight", "candlelight"}, time="night", weather="snow",
         action=["steps outside", "firewood", "lantern"]),

    # --- science fiction ------------------------------------------------------------------------------------------
    case("vega", "*Vega flips three switches on the console and the bridge hums to life.* \"Hold on to "
         "something.\"", kits={"spaceship"}, lighting={"neon", "studio", "moonlight"}, time="night",
         action=["flips", "switches", "console"]),
    case("vega", "*She floats over to the observation window and presses her palm to the glass, Saturn's rings "
         "glittering beyond.*", kits={"spaceship"}, lighting={"moonlight", "neon", "studio"}, time="night",
         action=["floats", "window", "palm"]),
    case("vega", "Alarms blare. Vega grabs the fire extinguisher and sprints down the corridor toward the "
         "engine room.", kits={"spaceship", "room"}, lighting={"neon", "studio", "moonlight"}, time="night",
         action=["grabs", "extinguisher", "sprints"]),

    # --- slice of life --------------------------------------------------------------------------------------------
    case("theo", "*Theo slides a latte across the counter with a heart drawn in the foam.* \"On the house, "
         "for my favourite regular.\"", kits={"cafe"}, lighting={"daylight"}, time="day",
         action=["slides", "latte", "counter"]),
    case("theo", "Morning! The usual? I just pulled a fresh batch of croissants out of the oven.",
         kits={"cafe"}, lighting="daylight", time="day", action=["theo"]),
    case("theo", "*He wipes down the last table, flips the sign to CLOSED and sits across from you with two "
         "mugs of cocoa.*", kits={"cafe"}, lighting={"daylight", "golden_hour", "candlelight", "moonlight"},
         time="day", action=["wipes", "table", "mugs"]),
    case("kit", "*Kit curls up on the sofa under a blanket, steals a handful of your popcorn and presses play.*",
         kits={"room"}, lighting=NIGHT_INDOOR | {"golden_hour"}, time="dusk",
         action=["curls up", "sofa", "popcorn"]),
    case("kit", "*She lights three candles on the windowsill and turns off the lamp.* \"Better, right?\"",
         kits={"room"}, lighting="candlelight", time="dusk", action=["lights", "candles"]),
    case("kit", "I'm in the kitchen burning the pasta again 😅 come save me!!",
         kits={"room"}, lighting={"golden_hour", "candlelight", "moonlight", "daylight"}, time="dusk",
         action=["kit"]),
    case("nell", "*Nell dusts flour off her hands and pulls a tray of cinnamon buns from the oven in her little "
         "bakery.*", kits={"cafe"}, lighting="daylight", time="day", action=["pulls", "tray", "oven"]),
    case("nell", "\"Careful, they're hot!\" She laughs and sets the tray on the windowsill to cool while rain "
         "streams down the glass.", before=[("persona", "*Nell pulls a tray of buns from the oven in her bakery.*")],
         kits={"cafe"}, lighting="overcast", time="day", weather="rain", action=["sets", "tray"]),
    case("wren", "*Wren pushes her glasses up her nose and slides a dusty atlas off the top shelf.* \"This one's "
         "older than the building.\"", kits={"library"},
         lighting={"candlelight", "moonlight", "golden_hour", "overcast"},
         time="dusk", weather="snow", action=["slides", "atlas", "shelf"]),
    case("wren", "*She turns off the reading lamps one by one until only the one on our table glows.*",
         kits={"library"}, lighting={"candlelight", "moonlight"}, time="night", weather="snow",
         action=["lamps", "table"], before=[("persona", "It's nearly midnight, we should lock up.")]),
    case("wren", "Shh! People are studying. Whisper, please.", kits={"library"},
         lighting={"candlelight", "moonlight", "golden_hour", "overcast"}, time="dusk", weather="snow",
         action=["wren"]),

    # --- beach and sea --------------------------------------------------------------------------------------------
    case("rosa", "*Rosa paddles out past the break, turns her board and waits for the next set, the sun low and "
         "orange behind her.*", kits={"beach"}, lighting="golden_hour", time="dusk",
         action=["paddles", "board"]),
    case("rosa", "*She plants her surfboard in the sand and shakes the water out of her hair, grinning at you.* "
         "\"Your turn!\"", kits={"beach"}, lighting="daylight", time="day", action=["surfboard", "sand"],
         before=[("user", "Good morning! The waves look huge today.")]),
    case("rosa", "We sit on the pier with our feet dangling over the water, sharing a bag of chips as the "
         "stars come out.", kits={"harbour"}, lighting="moonlight", time="night", action=["sit", "pier", "chips"]),
    case("rosa", "Dude, the swell tomorrow is going to be insane! 🤙 Meet me at the beach at six?",
         before=[("persona", "*Rosa rinses her board under the outdoor shower on the beach at sunset.*")],
         kits={"beach"}, lighting="golden_hour", time="dusk", action=["rosa"]),

    # --- mountains, desert, road ----------------------------------------------------------------------------------
    case("juno", "*Juno checks the knots on your harness twice, then clips you to the rope.* \"Trust the "
         "rope, not your feet.\"", kits={"mountain"}, lighting={"daylight", "golden_hour"}, time="day",
         action=["checks", "harness", "rope"]),
    case("juno", "*A blizzard swallows the ridge. Juno digs into the snow and pulls you behind a boulder.*",
         kits={"mountain"}, lighting={"overcast", "moonlight"}, time="day", weather="snow",
         action=["digs", "snow", "boulder"]),
    case("juno", "*At the summit she throws her arms wide, the whole valley laid out below in the noon sun.*",
         kits={"mountain"}, lighting="daylight", time="day", action=["throws", "arms", "summit"]),
    case("sol", "*Sol pulls his scarf over his face as the wind whips sand across the dunes.* \"We keep "
         "moving.\"", kits={"desert"}, lighting={"daylight", "overcast"}, time="day", weather="wind",
         action=["pulls", "scarf"]),
    case("sol", "*He leads the camel to the oasis and kneels to drink, the sunset turning the water gold.*",
         kits={"desert"}, lighting="golden_hour", time="dusk", action=["leads", "camel", "drink"]),
    case("ray", "*Ray drums on the steering wheel, sunglasses on, singing badly to the radio as the coast "
         "road unspools ahead.*", kits={"car"}, lighting="daylight", time="day",
         action=["drums", "steering wheel", "singing"]),
    case("ray", "*He pulls over at a lookout above the sea and leans on the hood of the car, watching the "
         "sunset.*", kits={"car", "beach", "mountain"}, lighting="golden_hour", time="dusk",
         action=["leans", "hood"]),
    case("hana", "*Hana presses her forehead to the cold window of the compartment, watching snowy villages "
         "slide past in the dark.*", kits={"train"}, lighting={"moonlight", "candlelight"}, time="night",
         weather="snow", action=["presses", "forehead", "window"]),
    case("hana", "*She unwraps two sandwiches from wax paper and hands you one across the little table.* "
         "\"Dinner on rails.\"", kits={"train"}, lighting={"moonlight", "candlelight"}, time="night",
         action=["unwraps", "sandwiches", "hands"]),

    # --- horror and mystery ---------------------------------------------------------------------------------------
    case("oona", "*Oona glides down the staircase holding a single candle, the portraits watching from the "
         "walls.*", kits={"room"}, lighting="candlelight", time="night", weather="fog",
         action=["glides", "staircase", "candle"]),
    case("oona", "*The door creaks open onto the overgrown garden. Oona steps into the fog without a sound.*",
         kits={"field"}, lighting="moonlight", time="night", weather="fog", action=["steps", "fog"]),
    case("oona", "Do you hear it too? The piano... nobody has played it in a hundred years.",
         kits={"room"}, lighting={"moonlight", "candlelight"}, time="night", weather="fog", action=["oona"]),

    # --- garden and city roofs ------------------------------------------------------------------------------------
    case("ivy", "*Ivy kneels among the tomato plants, snipping off the ripe ones and dropping them in a "
         "basket.*", kits={"rooftop"}, lighting="daylight", time="day", action=["kneels", "tomato", "basket"]),
    case("ivy", "*She strings fairy lights along the railing as the sun sets over the skyline.* \"Party "
         "tonight.\"", kits={"rooftop"}, lighting="golden_hour", time="dusk", action=["strings", "lights"]),
    case("ivy", "Ugh, it's pouring! Grab the seedlings, quick! 🌧️", kits={"rooftop"},
         lighting={"overcast"}, time="day", weather="rain", action=["ivy"]),

    # --- first person, novel style, emoji, mixed ------------------------------------------------------------------
    case("theo", "I lean on the counter and slide you a napkin with my number on it. Don't tell my boss.",
         kits={"cafe"}, lighting="daylight", time="day", action=["leans", "counter", "napkin"]),
    case("kit", "I grab your hand and pull you out onto the balcony. Look, fireworks!",
         kits={"rooftop"}, lighting={"moonlight", "neon"}, time="night", action=["grabs", "hand", "balcony"]),
    case("lyra", "Lyra looked back over her shoulder. \"Keep up, city child,\" she said, and vanished between "
         "the pines.", kits={"forest"}, lighting="golden_hour", time="dusk", action=["looked back", "shoulder"]),
    case("vega", "Haha, you think that's fast? Wait till I hit the hyperdrive 😎",
         kits={"spaceship"}, lighting={"neon", "studio", "moonlight"}, time="night", action=["vega"]),
    case("bram", "Aye. *nods slowly and goes back to polishing the tankard* Some stories are best left "
         "untold.", kits={"cafe"}, lighting="firelight", time="night", action=["nods", "polishing", "tankard"]),
    case("ash", "(He pours two fingers of whiskey and slides the glass to you.) Drink. You look like you've "
         "seen a ghost.", kits={"room"}, lighting="rainy_night", time="night", weather="rain",
         action=["pours", "whiskey", "glass"]),

    # --- the story carried over from earlier turns ----------------------------------------------------------------
    case("rosa", "*She laughs and splashes you.*", kits={"beach"}, lighting="golden_hour", time="dusk",
         before=[("persona", "*Rosa wades into the sea at sunset, the waves foaming around her knees.*"),
                 ("user", "It's freezing!")], action=["laughs", "splashes"]),
    case("kit", "*She rests her head on your shoulder.*", kits={"room"}, lighting="candlelight", time="night",
         before=[("persona", "*Kit lights candles all around the living room.* Movie night!"),
                 ("user", "What are we watching?"), ("persona", "Something scary, obviously.")],
         action=["rests", "head", "shoulder"]),
    case("juno", "*She passes you the thermos and grins.* \"Halfway there.\"", kits={"mountain"},
         lighting="overcast", time="day", weather="snow",
         before=[("persona", "*Snow starts to fall as Juno leads you up the ridge.*"), ("user", "My legs are jelly.")],
         action=["passes", "thermos", "grins"]),
    case("hana", "*Hana yawns and pulls the blanket up to her chin.*", kits={"train"},
         lighting={"moonlight", "candlelight"}, time="night",
         before=[("user", "Where are we now?"), ("persona", "Somewhere in the Alps, I think. It's past midnight.")],
         action=["yawns", "blanket"]),
    case("theo", "*He hands you an umbrella from the lost-and-found box.* \"Bring it back, okay?\"",
         kits={"cafe"}, lighting="overcast", time="day", weather="rain",
         before=[("user", "Oh no, it's raining cats and dogs out there."), ("persona", "Yikes, look at it pour.")],
         action=["hands", "umbrella"]),
    case("lyra", "*She smiles and hands you the reins.*", kits={"field"}, lighting="daylight", time="day",
         before=[("persona", "*Lyra leads two horses out of the forest into a sunny meadow.*"),
                 ("user", "Which one is mine?")], action=["smiles", "reins"]),

    # --- the user on screen, as they described themselves ---------------------------------------------------------
    case("ash", "*Ash looks you up and down.* \"Nice coat. Trouble follows coats like that.\"",
         before=[("user", "I'm wearing my red trench coat and I'm soaked.")], kits={"room"},
         lighting="rainy_night", time="night", weather="rain", on_screen=["Ash", "Alex"], action=["looks"]),
    case("rosa", "*Rosa tosses you a towel.* \"Dry off, newbie.\"",
         before=[("user", "I have short curly hair and I'm dripping wet from the sea.")], kits={"beach"},
         lighting="daylight", time="day", on_screen=["Rosa", "Alex"], action=["tosses", "towel"]),
]


# Held out: written after the rules were fitted to CASES, and run once before any change: rules path
# setting 96 %, lighting 83 %, time 75 %, weather and action 100 % (2026-11-29). The misses were then
# fixed by general rules (neon and fires are night things, a light source in the scenario lights a scene
# that never left it, a locative in a clause about the sun places the sun); these cases are reported apart
# but are no longer unseen.
HELD_OUT: list[dict] = [
    case("marco", "*Marco flips the pan, flames leaping up from the stove, and shouts an order over his shoulder.*",
         kits={"room", "cafe"}, lighting="firelight", time="night", action=["flips", "pan"]),
    case("marco", "Taste this. *He holds out a wooden spoon of sauce, cupping his hand under it.*",
         kits={"room", "cafe"}, lighting={"firelight", "candlelight", "moonlight"}, time="night",
         action=["holds out", "spoon"]),
    case("marco", "*After closing, he sets a single candle between two plates at the last table by the window.*",
         kits={"cafe", "room"}, lighting="candlelight", time="night", action=["candle", "plates"]),
    case("selene", "*Selene adjusts the brass telescope and steps back so you can look.* \"Jupiter. See the "
         "moons?\"", kits={"room", "mountain"}, lighting="moonlight", time="night",
         action=["adjusts", "telescope"]),
    case("selene", "*The dome groans open and a cold wind rushes in. Selene pulls her robe tighter.*",
         kits={"room", "mountain"}, lighting="moonlight", time="night", weather="wind",
         action=["pulls", "robe"]),
    case("selene", "Look! A shooting star! Make a wish, quick!", kits={"room", "mountain"}, lighting="moonlight",
         time="night", action=["selene"]),
    case("dex", "*Dex ducks under a flickering hologram and slips into a noodle bar, rain dripping off his "
         "visor.*", kits={"cafe", "street"}, lighting="neon", time="night", weather="rain",
         action=["ducks", "hologram"]),
    case("dex", "*He slaps a credit chip on the counter.* \"Two bowls, extra spicy. My friend's paying.\"",
         kits={"cafe"}, lighting="neon", time="night", weather="rain", action=["slaps", "chip", "counter"]),
    case("dex", "Stay close. The drones sweep this alley every ten minutes.", kits={"street"}, lighting="neon",
         time="night", weather="rain", action=["dex"]),
    case("aoife", "*Aoife hauls the lobster pots onto the pier, her red hair whipped about by the wind.*",
         kits={"harbour"}, lighting={"daylight", "overcast"}, time="day", weather="wind",
         action=["hauls", "pots"]),
    case("aoife", "*She hands you a steaming mug of tea in the little pub by the harbour as the rain comes down "
         "outside.*", kits={"cafe"}, lighting={"overcast", "rainy_night"}, time="day", weather="rain",
         action=["hands", "mug", "tea"]),
    case("aoife", "*At dusk she walks you along the cliffs, the Atlantic crashing far below.*",
         kits={"mountain", "beach"}, lighting="golden_hour", time="dusk", action=["walks", "cliffs"]),
    case("gideon", "*Gideon draws his sword and steps in front of you as the wolves circle the campfire.*",
         kits={"field", "forest"}, lighting="firelight", time="night", action=["draws", "sword"]),
    case("gideon", "*He kneels before the queen in the great hall, torches flickering along the stone walls.*",
         kits={"room"}, lighting="firelight", time="night", action=["kneels", "queen"]),
    case("gideon", "*The knight leads his horse across the snowy pass at first light.*",
         kits={"mountain"}, lighting={"golden_hour", "overcast"}, time="dawn", weather="snow",
         action=["leads", "horse"]),
    case("pip", "*Pip flicks a brush at the canvas, spattering blue paint across your shirt.* \"Oops.\"",
         kits={"room"}, lighting={"daylight", "studio"}, time="day", action=["flicks", "brush", "canvas"]),
    case("pip", "*She drags two chairs up to the big window and hands you a sketchbook as the sun sets over "
         "the rooftops.*", kits={"room"}, lighting="golden_hour", time="dusk", action=["drags", "chairs"]),
    case("pip", "Don't move! The light on your face is perfect right now.", kits={"room"},
         lighting={"daylight", "studio"}, time="day", action=["pip"]),
    case("kit", "*She pulls you onto the dance floor of the crowded nightclub, lights strobing overhead.*",
         kits={"cafe"}, lighting="neon", time="night", action=["pulls", "dance floor"]),
    case("rosa", "*Rosa lies back on her towel and shades her eyes against the midday sun.*",
         kits={"beach"}, lighting="daylight", time="day", action=["lies back", "towel"],
         before=[("user", "Beach day!")]),
    case("hana", "*The train rattles through a tunnel and the lights flicker. Hana grabs your arm.*",
         kits={"train"}, lighting={"moonlight", "candlelight"}, time="night", action=["grabs", "arm"]),
    case("wren", "*She lets you in through the back door; the empty library is dark except for her torch "
         "beam.*", kits={"library"}, lighting={"moonlight", "candlelight", "firelight"}, time="night",
         weather="snow", action=["lets", "door"]),
    case("oona", "*Thunder rolls. Oona stands at the top of the tower stairs, her dress billowing.*",
         kits={"room"}, lighting="rainy_night", time="night", weather="storm", action=["stands", "stairs"]),
    case("ivy", "*Ivy waters the ferns on her balcony in the morning drizzle, humming to herself.*",
         kits={"rooftop"}, lighting="overcast", time="day", weather="rain", action=["waters", "ferns"]),
]


FIELDS = ("setting", "lighting", "time", "weather", "on_screen", "action_words", "placeholders")
TARGETS = {"setting": 0.9, "lighting": 0.9, "action_words": 0.8}


def _personas() -> dict[str, Persona]:
    return {key: Persona.objects.create(**fields) for key, fields in PERSONAS.items()}


def _conversation(user, persona: Persona, case: dict) -> Message:
    conversation = Conversation.objects.create(owner=user, persona=persona, title=persona.name)
    for role, text in case["before"]:
        message_create(conversation=conversation, role=role, kind=Message.Kind.TEXT, content=text,
                       status=Message.Status.COMPLETE)
    return message_create(conversation=conversation, role=Message.Role.PERSONA, kind=Message.Kind.TEXT,
                          content=case["message"],
                          status=Message.Status.COMPLETE)


def _placeholders(beat) -> int:
    return sum(1 for p in beat_problems(beat) if "placeholder" in p) + sum(
        1 for value in (beat.setting, beat.action, beat.mood) if lexicon.is_placeholder(value))


def score(beat, case: dict, persona_name: str) -> dict:
    kit = scenery.place_kit(beat.setting)
    action = beat.action.lower()
    words = case["action"]
    found = [w for w in words if w.lower() in action]
    on_screen = case["on_screen"] or [persona_name]
    return {
        "setting": kit in case["kits"],
        "lighting": beat.lighting.value in case["lighting"],
        "time": beat.time_of_day.value in case["time"],
        "weather": beat.weather.value == case["weather"],
        "on_screen": [c.name for c in beat.characters] == on_screen,
        "action_words": (len(found), len(words)),
        "placeholders": _placeholders(beat),
        "kit": kit,
    }


def summarise(rows: list[dict]) -> dict:
    out: dict[str, float | int] = {"cases": len(rows)}
    for name in ("setting", "lighting", "time", "weather", "on_screen"):
        out[name] = round(sum(r[name] for r in rows) / len(rows), 3)
    found = sum(r["action_words"][0] for r in rows)
    total = sum(r["action_words"][1] for r in rows)
    out["action_words"] = round(found / max(1, total), 3)
    out["action_all_words"] = round(sum(r["action_words"][0] == r["action_words"][1] for r in rows) / len(rows), 3)
    out["placeholders"] = sum(r["placeholders"] for r in rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--paths", default="rules,model", help="comma-separated: rules, model")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--show", action="store_true", help="print every beat and what it missed")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds the model may take per beat (the app uses EVOLVE_EXTRACT_TIMEOUT_S; the "
                             "benchmark measures what the model reads, so it waits longer on a loaded machine)")
    parser.add_argument("--set", dest="which", choices=("fitted", "held-out", "all"), default="all",
                        help="the cases the rules were fitted to, the held-out ones, or both (reported apart)")
    args = parser.parse_args()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]

    settings.EVOLVE_EXTRACT_TIMEOUT_S = args.timeout
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("alex", password="pw-bench-123", first_name="Alex")
    from companion.accounts.services import profile_set_display_name

    profile_set_display_name(user=user, display_name="Alex")
    personas = _personas()
    cases = [("fitted", c) for c in CASES] if args.which in ("fitted", "all") else []
    cases += [("held-out", c) for c in HELD_OUT] if args.which in ("held-out", "all") else []
    cases = cases[: args.limit] if args.limit else cases
    rows: dict[str, list[dict]] = {p: [] for p in paths}
    seconds: dict[str, float] = {p: 0.0 for p in paths}
    model_answers = 0
    for index, (which, case) in enumerate(cases):
        persona = personas[case["persona"]]
        message = _conversation(user, persona, case)
        ctx = gather_context(message)
        for path in paths:
            t0 = time.perf_counter()
            model_scene = None
            if path == "model":
                model_scene = async_to_sync(scene_model_ask)(ctx, beat_seed(message.pk, None))
                model_answers += model_scene is not None
            beat = beat_assemble(ctx=ctx, model_scene=model_scene)
            seconds[path] += time.perf_counter() - t0
            row = score(beat, case, persona.name)
            row["set"] = which
            rows[path].append(row)
            if args.show:
                missed = [f for f in ("setting", "lighting", "time", "weather", "on_screen") if not row[f]]
                if row["action_words"][0] < row["action_words"][1]:
                    missed.append("action")
                flag = "  MISSED " + ", ".join(missed) if missed else ""
                print(f"[{path} {which} {index:02d} {case['persona']}] {beat.setting!r} ({row['kit']}) | "
                      f"{beat.time_of_day.value}/{beat.weather.value}/{beat.lighting.value} | {beat.action!r} | "
                      f"speech={beat.speech[:40]!r} | mood={beat.mood!r}{flag}")
    sets = sorted({which for which, _ in cases}, reverse=True)
    report = {
        "backend": settings.LLM_BACKEND,
        "cases": len(cases),
        "paths": {p: {**summarise(rows[p]), "seconds_per_case": round(seconds[p] / max(1, len(cases)), 3)}
                  for p in paths},
        "by_set": {p: {w: summarise([r for r in rows[p] if r["set"] == w]) for w in sets} for p in paths},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if "model" in paths:
        report["paths"]["model"]["model_answered"] = model_answers
    print(json.dumps(report, indent=2))
    print("\n| path | cases | setting | lighting | time | weather | on screen | action words | placeholders |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in paths:
        for label, s in [("all", report["paths"][p]), *report["by_set"][p].items()]:
            print(f"| {p} ({label}) | {s['cases']} | {s['setting']:.0%} | {s['lighting']:.0%} | {s['time']:.0%} | "
                  f"{s['weather']:.0%} | {s['on_screen']:.0%} | {s['action_words']:.0%} | {s['placeholders']} |")
    if args.json:
        args.json.write_text(json.dumps({"report": report, "rows": rows}, indent=2, default=str))
    failed = [f"{p}.{f}" for p in paths for f, target in TARGETS.items() if report["paths"][p][f] < target]
    failed += [f"{p}.placeholders" for p in paths if report["paths"][p]["placeholders"]]
    if failed:
        print("below target: " + ", ".join(failed))


if __name__ == "__main__":
    main()
