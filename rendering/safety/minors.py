"""Does a text describe a minor?  Stated ages, role words and look + cue, in ten languages.

``find_minor_reference(text)`` runs every rule over every view from
``normalise.text_views`` and returns the first phrase that describes someone
under 18, or None.  Rules, in order:

1. stated ages (``ages.py``): "15-year-old", "15yo", "16 y.o.", "aged 12", "turning 16",
   "she is 15", "a girl of fifteen", "Emma, 15,", "under 18", "15th birthday";
   "N años/anos/ans/anni/Jahre/лет/岁/歳/살/세" with the age words of each
   language (a duration — "10 years ago", "hace 10 años", "depuis 10 ans" —
   and an object's age — "a 12-year-old whisky", "her 14-year-old dog" — pass);
2. school grades and school types: "grade 8", "9th grader", "middle schooler",
   "a high school student", "she is in junior high" (a teacher, a reunion, a
   sweetheart of her high-school days pass);
3. words that name a child: "kid", "teen", "toddler", "schoolgirl", "niña",
   "écolière", "Schülerin", "ragazzina", "criança", "девочка", "小女孩",
   "女子高生", "초등학생", …, each with its ordinary uses excepted ("kid gloves",
   "kidding", "baby blue", "a minor detail", "A minor", "child's play");
4. a youthful look with a school or childish cue ("young-looking" + "school
   uniform", "a girl with pigtails and a teddy bear").
"""

# ruff: noqa: RUF001  (look-alike letters are the subject of this module)

from __future__ import annotations

import re
from collections.abc import Iterable

from rendering.safety.ages import stated_ages
from rendering.safety.normalise import fold, text_views
from rendering.safety.normalise import folded_rule as _c
from rendering.safety.normalise import word_alternation as _words

# --- school grades and school types ----------------------------------------------------
_ADULT_CONTEXT_AFTER = (
    r"(?!\s*(?:teachers?|teaching|teaches|principals?|staff|faculty|counsell?ors?|nurses?|janitors?|librarians?|"
    r"coach(?:es)?|buildings?|reunions?|sweethearts?|diplomas?|graduates?|graduation\s+photo|yearbooks?|memories|"
    r"friends?|days|years|english|math|maths|science|history|curriculum|textbooks?|level|reading\s+level|dropout|"
    r"degree|equivalent|education|gym\s+teacher|band\s+teacher|prom\s+photo|photo|crush\s+on\s+her\s+teacher)\b)"
)
_ORDINAL_WORDS = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
_SCHOOL_TYPE = (r"(?:(?:elementary|primary|grade|middle|junior\s+high|jr\.?\s*high|high|secondary|prep|preparatory|"
                r"grammar|nursery|pre|kinder|kindergarten|sunday)[\s-]*school|junior[\s-]+high|jr\.?\s*high)")
_SCHOOL_RULES = [
    _c(r"\b(?:grade|year|form|class)\s*(?P<n>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
       r"twelve)\b(?!\s*(?:%|:|\.\d|steel|hurricane|piano|exam|violin|level|tea|diamond|\w*\s+teacher))"
       r"(?=\s+(?:students?|pupils?|girls?|boys?|kids?|children|class|classmates?|classroom|homeroom|uniform)\b"
       r"|[^.]*\b(?:school|student|pupil|classmates?)\b)"),
    _c(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)|{_words(_ORDINAL_WORDS)})[\s-]*(?:grade|grader|graders|"
       rf"form|former|formers|standard|class)\b{_ADULT_CONTEXT_AFTER}"),
    _c(r"\b(?:pre|grade|middle|high|home|elementary|primary|junior[\s-]*high|kindergarten)[\s-]?schoolers?\b"),
    _c(rf"\b{_SCHOOL_TYPE}\s*(?:students?|pupils?|girls?|boys?|kids?|child|children|freshm[ae]n|sophomores?|juniors?|"
       rf"seniors?|cheerleaders?|athletes?|couples?|crush|prom|uniforms?|age|aged|years?\s+old|class|classmates?"
       rf"|bus|field\s+trip|locker|hallway\s+with\s+students|dance)\b"),
    _c(rf"\b(?:is|was|are|were|'s|am|'m|still|currently|only|just|be|being)\s+(?:(?:still|only|just|currently|now)\s+)?"
       rf"(?:in|at|attending|enrolled\s+in)\s+(?:a\s+|the\s+|her\s+|his\s+)?(?:{_SCHOOL_TYPE}|junior\s+high|"
       rf"\d{{1,2}}(?:st|nd|rd|th)\s+grade|kindergarten|preschool|nursery|{_words(_ORDINAL_WORDS)}"
       rf"\s+grade|grade\s+\d{{1,2}}|year\s+\d{{1,2}}|sixth\s+form)\b{_ADULT_CONTEXT_AFTER}"),
    _c(rf"\b(?:attends?|attending|goes\s+to|going\s+to|enrolled\s+(?:in|at)|still\s+at|starts?|starting"
       rf"|just\s+started|started)\s+"
       rf"(?:a\s+|an\s+|the\s+|her\s+|his\s+)?(?:local\s+|nearby\s+|public\s+|private\s+|new\s+)?{_SCHOOL_TYPE}\b"
       rf"{_ADULT_CONTEXT_AFTER}"),
    _c(rf"\b(?:students?|pupils?|girls?|boys?|kids?|freshm[ae]n|sophomores?|juniors?|seniors?)\s+(?:at|from|of|in)\s+"
       rf"(?:a\s+|an\s+|the\s+|her\s+|his\s+|their\s+)?(?:local\s+|nearby\s+|public\s+|private\s+)?{_SCHOOL_TYPE}\b"),
    _c(r"\b(?:elementary|primary|kindergarten|preschool|toddler|nursery|grade[\s-]school)[\s-]?age[ds]?\b"),
    _c(r"\b(?:school[\s-]?girls?|school[\s-]?boys?|school[\s-]?kids?|school[\s-]?child(?:ren)?|school[\s-]?age[ds]?"
       r"|school[\s-]?aged|sixth[\s-]form(?:ers?)?(?!\s+(?:college\s+)?teachers?)|(?:high|middle|grade)[\s-]school"
       r"[\s-]?(?:aged?))\b"),
    _c(r"\b(?:(?:high|middle|junior\s+high|elementary|primary|secondary)\s+school\s+)?(?:freshm[ae]n|sophomores?)\s+"
       r"(?:in|at)\s+(?:a\s+|the\s+)?(?:high|middle|junior\s+high)\b"),
    _c(r"\b(?:kindergart(?:e|n)ers?|kindergarteners?|preschoolers?|pre[\s-]?schoolers?|nursery[\s-]school(?:ers)?"
       r"|first[\s-]graders?|toddlerhood)\b"),
    _c(rf"\b(?:kindergarten|preschool|nursery\s+school|day\s*care|daycare)\b{_ADULT_CONTEXT_AFTER}(?!\s+(?:center|"
       r"centre)\s+(?:staff|teacher))(?=[^.]*\b(?:kids?|child|children|girl|boy|her|his|she|he|class|playing|plays)\b)"),
]
_NAMED_SCHOOL_RE = re.compile(
    r"(?i:\b(?:students?|pupils?|girls?|boys?|kids?|freshm[ae]n|sophomores?|juniors?|seniors?|cheerleaders?"
    r"|(?:she|he)\s+(?:is|was)|(?:she|he)'s)\s+(?:at|from|of|in|attends|goes\s+to)\s+)"
    r"(?:[A-Z][\w'.-]+\s+){1,3}(?:High|Middle|Elementary|Junior\s+High|Prep)\b(?!\s+(?:School\s+)?(?:teacher|staff))"
)
_TEACH_BEFORE_RE = _c(r"\b(?:teach|teaches|taught|teaching|teacher|teachers|tutor|tutors|substitute|professor|"
                      r"principal|coach|coaches|coaching|instructor)\b[^.]{0,25}$")


def _school_role(view: str) -> str | None:
    for regex in (*_SCHOOL_RULES, _NAMED_SCHOOL_RE):
        for m in regex.finditer(view):
            if _TEACH_BEFORE_RE.search(view[max(0, m.start() - 40):m.start()]):
                continue
            return m.group(0)
    return None


# --- words that name a child -----------------------------------------------------------
_EN_CHILD = _c(
    r"\b(?:child(?!(?:'s|s')\s+play)|children(?!'s\s+(?:books?|bookstore|library|literature|authors?|illustrators?|"
    r"menu|section|department|hospital|museum|television|tv|shows?|songs?|stor(?:y|ies)|toys?|clothing|clothes|wear|"
    r"charity|charities|rights|fund)\b)|childs|kid(?!\s*(?:gloves?|leather|goat|skin|suede|mohair|you|me|around|"
    r"-?friendly|-?free|-?safe|-?proof)\b)|kids(?!'?[\s-]*(?:-?friendly|-?free|menus?)\b)|kiddos?|kiddies?|kiddy|minors"
    r"|teens?|teenagers?|teenage|teenaged|teenie|teenies|teenybopper|pre-?teens?|tweens?|tweenagers?|tweenies?"
    r"|underage|under-age|underaged|schoolgirls?|schoolboys?|schoolkids?|schoolchild|schoolchildren|toddlers?"
    r"|infants?|newborns?|neonates?|babies(?!'\s+breath)|lolis?|lolita(?!\s+(?:fashion|dress|dresses|style\s+dress|"
    r"outfit|coord))|lolitas|lolicon|shotas?|shotacon|jailbait|prepubescent|pre-pubescent|pubescent|adolescents?"
    r"|juveniles?|youngsters?|nymphets?|ageplay|age\s+play|ddlg|moppets?|bairns?|wee\s+(?:lass|lad|bairn|one|girl|"
    r"boy)|little\s+ones?|lil\s+(?:girl|boy|kid)s?|young\s+(?:girls?|boys?|child|children|kids?|daughters?|sons?|"
    r"lass|lad|teens?)|little\s+(?:girls?|boys?|kids?|child|children|lass|lad)|small\s+(?:girls?|boys?|child|"
    r"children|kids?)|tiny\s+(?:girls?|boys?|tots?|humans?|child|kids?)|(?:girl|boy)\s+child|cub\s+scouts?"
    r"|(?:a|the|little|tiny)\s+tots?\b(?!\s*-)|minor\s+(?:girls?|boys?|child|children|kids?|females?|males?"
    r"|daughters?|sons?)|under\s*-?\s*eighteens?|under[\s-]?18s|u-?1[0-7]s?(?=\s+(?:team|player|girls?|boys?|"
    r"squad|league))|barely\s+legal|jail\s*bait|child[\s-]?(?:bride|model|actress|actor|star|pageant)s?"
    r"|(?:loli|shota)[\s-]?(?:con|style|body|art)|childlike\s+(?:body|bodies|figure|frame|features|face|proportions"
    r"|build|physique|anatomy)|child[\s-]like\s+(?:body|bodies|figure|frame|features|face|proportions|build|physique)"
    r"|(?:looks?|looking|looked|appears?|seems?|resembles?)\s+(?:like\s+)?(?:a\s+|an\s+)?(?:little\s+)?(?:child|kid"
    r"|minor|teen|teenager|schoolgirl|preteen|middle[\s-]schooler|high[\s-]schooler|twelve[\s-]year[\s-]old)"
    r"|looks?\s+(?:under\s*age|underage|under\s+18|way\s+too\s+young|too\s+young|prepubescent)"
    r"|bat\s+mitzvah|bar\s+mitzvah|b'nai\s+mitzvah|quinceaneras?|quinceañeras?|sweet\s+(?:sixteen|16)"
    r"|(?:her|his)\s+(?:first|1st)\s+(?:day\s+of\s+(?:school|kindergarten|first\s+grade)|communion)"
    r")\b"
)
# "kid"/"child" in a simile ("grinning like a kid", "laughed like a child") is not a child on screen.
_SIMILE_BEFORE_RE = _c(r"(?<!look)(?<!looks)(?<!looking)(?<!appears)(?<!seems)(?<!resembles)(?<!dressed)"
                       r"\s+like\s+(?:a\s+|an\s+|the\s+)?(?:little\s+|happy\s+|giddy\s+|excited\s+|small\s+)?$")
_ADULT_ONLY_CHILD_RE = _c(
    r"\b(?:inner|only|poster|problem|middle|eldest|oldest|youngest|adult|grown|grown-up|foster|wild|love|flower)\s+"
    r"child(?:ren)?\b|\bwith\s+child\b|\bkid\s+(?:sister|brother)\b|\b(?:karate|billy\s+the|cisco|new)\s+kids?\b"
    r"|\b(?:the\s+)?kids\s+(?:are\s+alright|these\s+days)\b|\bteen\s+(?:vogue|titans|spirit)\b"
    r"|\bchild\s+(?:support|custody|psychologist|psychology|development|care\s+worker|protection)\b"
    r"|\bchildhood\b|\bjuvenile\s+(?:hawk|bird|eagle|salmon|fish|plumage|delinquency\s+law)\b"
    r"|\bfriends?\s+since\s+(?:they|we|she|he)\s+were\s+kids\b|\b(?:he|she|it|who|one)\s+kids\b"
    r"|\b(?:goats?|does?|nanny\s+goats?|billy\s+goats?|ewes?)\b[^.]{0,25}\bkids?\b|\bkid[\s-]+(?:leather|gloves?)\b"
    r"|\b(?:had|have|has|having|want|wants|wanted|raising|raised|no|without)\s+(?:a\s+)?kids?\s+"
    r"(?:last|this|next|of\s+(?:her|his|their)\s+own|yet|together|someday|one\s+day|and|at\s+home|in\s+college)\b"
)
# "minor" as a noun: "she is a minor", "with a minor." — not "a minor detail", "in A minor", "a minor key".
_MINOR_NOUN_RE = _c(
    r"(?<!\bin\s)(?<!\bof\s)(?<![b-g]\s)(?<![b-g]-)(?<!\bsharp\s)(?<!\bflat\s)\b(?:a|the|is\s+a|was\s+a|with\s+a|"
    r"to\s+a|and\s+a|as\s+a|involving\s+a|depicting\s+a|showing\s+a|of\s+a|still\s+a|technically\s+a|clearly\s+a"
    r"|obviously\s+a|underage|female|male)\s+minor\b(?=\s*(?:[.,;:!?)\"']|$|\s+(?:girl|boy|child|who|wearing|in\s+(?!"
    r"(?:the\s+)?key)|at|with|and|on|sitting|standing|lying|walking|posing|dressed|named|called|she|he|her|his)\b))"
)
_MINOR_PLAIN_RE = _c(r"\b(?:is|was|still|technically|legally)\s+(?:a\s+)?minor\b(?!\s+(?:detail|issue|problem|"
                     r"character|role|part|thing|point|injury|league|key|chord|scale|change|adjustment|flaw|"
                     r"inconvenience|setback|celebrity|miracle|mistake|error|concern|difference))")
_BABY_IDIOMS = _words(
    "blue pink yellow green grand carrot carrots spinach shower showers steps step back oil powder face faced",
    "doll dolls",
    "bump talk fat hair teeth food boom boomer boomers wipes wipe sitter sitting monitor name names book photos photo",
    "pictures picture shoes clothes gift gifts registry bottle bottles formula cakes corn potatoes octopus squid bok",
    "kale arugula greens lettuce tomatoes cucumbers shark elephant animal animals bird birds goat goats deer fox seal",
    "turtle dragon dino dinosaur fern yoda driver daddy mama momma giraffe otter panda bear lion tiger lamb chick",
    "duck duckling owl penguin tortoise whale dolphin rabbit bunny kangaroo koala monkey gorilla horse pony cow pig",
    "sheep hedgehog squirrel raccoon sloth alpaca llama camel hippo rhino zebra crocodile alligator snake spider cat",
    "kitten dog puppy of steps' fever proof-ish grand's boutique store shop aisle section furniture crib-shopping",
)
_BABY_RE = _c(
    rf"\b(?:a|an|the|her|his|their|our|newborn|crying|sleeping|little|tiny|infant|chubby|swaddled|cradling|rocking|"
    rf"nursing|breastfeeding|bathing|diapering)\s+bab(?:y|ies)\b(?!'s\s+breath)(?![\s-]+(?:{_BABY_IDIOMS})\b)"
    rf"(?!\s+of\s+the\s+(?:family|group|team|house|band))"
)
_BABY_NOT_BEFORE_RE = _c(r"\b(?:having|expecting|pregnant\s+with|want|wants|wanted|to\s+have|trying\s+for|"
                         r"sugar|like)\s*$")

# Other languages. Word boundaries do not work for CJK: those lists match anywhere.
_LATIN_LANG_CHILD = _c(
    r"\b(?:"
    # Spanish
    r"ninas?|ninos?|ninitas?|ninitos?|nenas?|nenes?|chiquillas?|chiquillos?|muchachitas?|muchachitos?|chamaquitas?"
    r"|colegialas?|colegiales|escolares|adolescentes?|preadolescentes?|menor(?:es)?\s+de\s+(?:edad|18|dieciocho)"
    r"|(?:una|un|unos|unas|con|la|el)\s+menor(?:es)?(?=\s*(?:[.,;:!?)]|$|\s+(?:que|de\s+edad|en|con|vestid\w*|"
    r"llamad\w*|y)\b))|(?:alumn[ao]s?|estudiantes?)\s+de\s+(?:primaria|secundaria|la\s+escuela|el\s+colegio|"
    r"instituto|bachillerato|preparatoria|la\s+secundaria|la\s+primaria|\d+(?:o|a|º|ª)?\s+grado)"
    r"|(?<!profesora\s)(?<!profesor\s)(?<!maestra\s)(?<!maestro\s)(?<!docente\s)(?:en|de|a)\s+(?:la\s+)?"
    r"(?:secundaria|primaria|prepa)|bebes|infantes?|criaturas?\s+de\s+\d"
    # Portuguese
    r"|criancas?|meninas?|meninos?|garotinhas?|garotinhos?|novinhas?|ninfetas?|pirralh[ao]s?|menor(?:es)?\s+de"
    r"\s+idade|(?:alun[ao]s?|estudantes?)\s+do\s+ensino\s+(?:fundamental|medio)|colegiais"
    # French
    r"|enfants?|fillettes?|petites?\s+filles?(?!-)|petits?\s+garcons?|gamin(?:e|es|s)?|ecolieres?|ecoliers?"
    r"|collegiennes?|collegiens?|lyceennes?|lyceens?|adolescentes?|(?:une|la|les|des|cette|ma|sa|ton|ta)\s+ados?"
    r"|(?:une|des|les)\s+mineures?|fille\s+mineure|bebes?\s+(?:qui|dans)|nourrissons?|preados?"
    # German
    r"|kinder(?=\s+(?:spielen|spielten|laufen|sitzen|stehen|im|in|auf|und|mit|,|\.))|kindern|kleinkinder?n?"
    r"|kleine[sn]?\s+(?:madchen|maedchen|kind|junge|jungen)|kleiner\s+junge|schulmadchen|schulmaedchen"
    r"|schuljungen?|schulerinn?e?n?|schuelerinn?e?n?|schuler(?=\s)|schueler(?=\s)|grundschuler\w*|grundschueler\w*"
    r"|gymnasiast\w*|minderjahrig\w*|minderjaehrig\w*|jugendliche[rn]?|teenie[s]?|saugling\w*|saeugling\w*"
    r"|(?:ein|das|dem|des|ihr|sein|kleines|junges|zwei|drei)\s+kind(?:es)?"
    # Italian
    r"|bambin[aeio]|bimb[ae]|ragazzin[aeio]|fanciullin[aeio]|scolar(?:etta|etto|ette|etti)|alunn[aeio]|liceal[ei]"
    r"|studentess[ae]\s+(?:delle\s+medie|delle\s+elementari|del\s+liceo)|minorenn[ei]|neonat[aeio]"
    r"|adolescenti|preadolescent[ei]"
    r")\b"
)
_CYRILLIC_CHILD = _c(
    r"(?<![^\W\d_])(?:ребен\w*|детск\w*\s+сад\w*|дети|детей|детям|детьми|детях|девочк\w*|девчонк\w*|девчушк\w*"
    r"|мальчик\w*|мальчишк\w*|школьниц\w*|школьник\w*|подрост\w*|несовершеннолет\w*|малолет\w*|младен\w*"
    r"|малыш\w*|лолит\w*|лоли\b|ученик\w*|учениц\w*|старшекласс\w*|первокласс\w*|пятикласс\w*|семикласс\w*"
    r"|восьмикласс\w*|девятикласс\w*|детсад\w*|дошкольн\w*|школьного\s+возраста|\d{1,2}\s*-?\s*(?:го|ого|м|й)?\s*"
    r"класс\w*\s*(?:школ\w*)?)"
)
_CJK_CHILD = re.compile(
    r"小孩|孩子(?!气|氣)|兒童|儿童|幼儿|幼兒|婴儿|嬰兒|小女孩|小男孩|少女(?!漫画|漫畫|マンガ|まんが)|幼女|萝莉|蘿莉|正太|未成年"
    r"|中学生|中學生|初中生|高中生|小学生|小學生|学生妹|學生妹|女童|男童|青少年|小朋友|女学生|女學生|女中学生|女高中生"
    r"|初中女生|初中男生|高中女生|高中男生|小学女生|中学女生|國中生|国中生|中二|高一女生|高二女生|高三女生"
    r"|十几岁|十幾歲|十多岁|子供|子ども|こども|少年(?!漫画|漫畫|マンガ|ジャンプ|誌|院)|幼児|児童|女児|男児|赤ちゃん|赤ん坊"
    r"|ロリ(?!ータ(?:ファッション|服))|ショタ|女子高生|女子中学生|女子小学生|高校生|園児|ランドセル|女子校生|幼稚園児|小学校低学年"
    r"|(?:小学|中学|高校)[0-9一二三四五六]年|(?<![0-9])1[0-9]?代(?=の|で|に|少女|女|男|\s|$)|十代"
    r"|(?<![가-힣])(?:초등학생|중학생|고등학생|여중생|여고생|남중생|남고생|초딩|중딩|고딩|유치원생|어린이|어린아이|아동|미성년자?"
    r"|소녀|소년|아기|아이|꼬마|여아|남아|청소년|10대|십대|여학생|남학생)"
    r"(?:들|이|가|은|는|을|를|와|과|랑|이랑|의|에게|한테|도|만|야|아|로|으로|에|처럼|같은|같이|였|였다|이다|입니다|예요|이에요)*"
    r"(?![가-힣])"
)
_ACCENTED_CHILD = re.compile(r"\b(?:beb[éê]s?|bébés?|niñ[ao]s?|niñit[ao]s?)\b", re.IGNORECASE)
_JK_RE = re.compile(r"(?<![A-Za-z])(?:JK|JC|JS|jk|jc)(?![A-Za-z])")
_HAS_CJK_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")

# --- look + cue ------------------------------------------------------------------------
_YOUNG_LOOK_RE = _c(
    r"\b(?:young[\s-]*looking|looks?\s+(?:very\s+|so\s+|really\s+)?young|looking\s+young|youthful(?:[\s-]looking)?"
    r"|baby[\s-]?faced?|babyface|petite|girlish|boyish[\s-]+(?:girl|figure|body)|innocent[\s-]looking|flat[\s-]chested"
    r"|childlike|child[\s-]like|tiny\s+(?:body|frame|figure)|small\s+(?:body|frame|figure)|undeveloped"
    r"|underdeveloped|immature\s+(?:body|figure|looks?)|doll[\s-]like|童颜|童顔|ロリ顔|幼い|동안|앳된)\b"
)
_GIRL_BOY_RE = _c(r"\b(?:girls?|boys?|lass(?:ie)?|lads?|gal|chica|chico|fille|madchen|maedchen|ragazza|ragazzo"
                  r"|menina|garota|garoto|девушк\w*|女孩|男孩|女の子|男の子|여자아이|남자아이)\b")
_CUE_RE = _c(
    r"(?:\b(?:school[\s-]?uniforms?|uniform\s+of\s+(?:her|his)\s+school|school[\s-]?bags?|school[\s-]?backpacks?"
    r"|book[\s-]?bags?|pigtails|bunches|hair\s+bows?|lollipops?|lollies|teddy(?:\s+bears?)?|stuffed\s+(?:animals?|"
    r"toys?|bunny|bear)|plushies?|plush\s+toys?|pacifiers?|diapers?|nappy|nappies|onesies?|crayons?|colou?ring\s+"
    r"books?|sippy\s+cups?|training\s+bras?|knee[\s-]?(?:high\s+)?socks|mary\s+janes|sailor\s+(?:uniforms?|suits?|"
    r"collars?|fuku)|pleated\s+skirts?|plaid\s+skirts?|gym\s+(?:uniforms?|shorts|bloomers)|bloomers|recess|"
    r"homework|school[\s-]?desks?|school[\s-]?bus|playground|swing[\s-]?sets?|jungle\s+gym|sandbox|cartoon\s+"
    r"backpacks?|randoseru|seifuku|field\s+trip|report\s+cards?|training\s+wheels|juice\s+box(?:es)?|nap\s+time"
    r"|bedtime\s+stor(?:y|ies)|braces\s+on\s+(?:her|his)\s+teeth|uniforme\s+escolar|uniforme\s+scolaire"
    r"|schuluniform|divisa\s+scolastica|школьн\w+\s+форм\w*|(?:her|his)\s+(?:mom|mommy|dad|daddy|parents)\s+"
    r"(?:drops?|picks?|tucks?)|tucked\s+in(?:to)?\s+bed\s+by)\b)"
    r"|ランドセル|セーラー服|校服|制服|교복|体操服|ブルマ|スク水|スクール水着|紅領巾|红领巾"
)
_OWN_SCHOOL_RE = _c(r"\b(?:her|his|their|its)\s+(?:school[\s-]uniforms?|school[\s-]?bags?|school[\s-]?backpacks?|"
                    r"homework|class(?:mates|room)\s+(?:at|in)\s+(?:middle|primary|elementary|high)|teachers?\s+"
                    r"(?:scolds?|calls?|tells?)\s+(?:her|him)|first\s+day\s+of\s+school|school\s+play|recess)\b")
_ADULT_ROLE_RE = _c(r"\b(?:teachers?|professors?|tutors?|instructors?|lecturers?|principals?|mother|father|mom|"
                    r"dad|parents?|aunt|uncle|nanny|babysitter|woman|women|man|men|adults?|grown[\s-]?ups?|lady"
                    r"|gentleman|wife|husband)\b")


def _look_and_cue(view: str) -> str | None:
    if m := _OWN_SCHOOL_RE.search(view):
        return m.group(0)
    cue = _CUE_RE.search(view)
    if cue is None:
        return None
    if look := _YOUNG_LOOK_RE.search(view):
        return f"{look.group(0)} + {cue.group(0)}"
    if (kid := _GIRL_BOY_RE.search(view)) and not _ADULT_ROLE_RE.search(view):
        return f"{kid.group(0)} + {cue.group(0)}"
    return None


def _child_word(view: str) -> str | None:
    for m in _EN_CHILD.finditer(view):
        word = m.group(0).lower()
        before = view[max(0, m.start() - 40):m.start()]
        if word.split()[-1] in ("kid", "kids", "child", "children") and _SIMILE_BEFORE_RE.search(before):
            continue
        if _ADULT_ONLY_CHILD_RE.search(view[max(0, m.start() - 20):m.end() + 25]):
            span = _ADULT_ONLY_CHILD_RE.search(view[max(0, m.start() - 20):m.end() + 25])
            start = max(0, m.start() - 20) + span.start()
            if start <= m.start() < start + len(span.group(0)) or m.start() <= start < m.end():
                continue
        return m.group(0)
    for regex in (_MINOR_NOUN_RE, _MINOR_PLAIN_RE):
        if m := regex.search(view):
            return m.group(0)
    for m in _BABY_RE.finditer(view):
        if not _BABY_NOT_BEFORE_RE.search(view[max(0, m.start() - 30):m.start()]):
            return m.group(0)
    for regex in (_LATIN_LANG_CHILD, _CYRILLIC_CHILD, _CJK_CHILD, _ACCENTED_CHILD):
        if m := regex.search(view):
            return m.group(0)
    if _HAS_CJK_RE.search(view) and (m := _JK_RE.search(view)):
        return m.group(0)
    return None


def find_minor_reference(text: str, *, names: Iterable[str] = ()) -> str | None:
    """The phrase that makes ``text`` describe someone under 18, or None.

    ``names`` are the cast's names, so "Mira is 15" counts as a person's age.
    """
    if not text or not text.strip():
        return None
    cast = frozenset(part.lower() for n in names for part in fold(n).split() if part)
    for view in text_views(text):
        if found := _child_word(view):
            return found
        for _age, phrase in stated_ages(view, cast):
            return phrase
        if found := _school_role(view):
            return found
        if found := _look_and_cue(view):
            return found
    return None
