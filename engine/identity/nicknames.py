"""Common English given-name variants -> one canonical name (an extra match key).

Kept small and explicit; a workspace can add its own through the identity settings
(`nicknames`: {"variant": "canonical"}).
"""
from __future__ import annotations

_GROUPS = {
    "alexander": "alex alexandr sasha xander",
    "alexandra": "alexa lexi sandra",
    "andrew": "andy drew",
    "anthony": "tony ant",
    "barbara": "barb babs",
    "benjamin": "ben benji benny",
    "catherine": "kate katie cathy cath kathy catharine katherine kathryn kat",
    "charles": "charlie chuck chas",
    "christopher": "chris kit topher",
    "christine": "chrissy tina christina",
    "daniel": "dan danny",
    "david": "dave davey",
    "deborah": "debbie deb debra",
    "donald": "don donny",
    "dorothy": "dot dottie",
    "edward": "ed eddie ted ned",
    "elizabeth": "liz lizzie beth betty eliza libby betsy",
    "emily": "em emmy",
    "frederick": "fred freddie",
    "gregory": "greg",
    "henry": "harry hank",
    "jacob": "jake",
    "james": "jim jimmy jamie",
    "jennifer": "jen jenny jenn",
    "jessica": "jess jessie",
    "john": "jack johnny jon",
    "jonathan": "jonny",
    "joseph": "joe joey",
    "joshua": "josh",
    "katherine": "",
    "kenneth": "ken kenny",
    "lawrence": "larry laurence",
    "leonard": "leo len lenny",
    "margaret": "maggie meg peggy marge madge greta",
    "matthew": "matt matty",
    "michael": "mike mikey mick mickey",
    "nathaniel": "nate nat nathan",
    "nicholas": "nick nicky",
    "patricia": "pat patty tricia trish",
    "patrick": "paddy",
    "peter": "pete",
    "philip": "phil phillip",
    "rebecca": "becky becca",
    "richard": "rick ricky dick rich richie",
    "robert": "bob bobby rob robbie bert",
    "ronald": "ron ronnie",
    "samuel": "sam sammy",
    "samantha": "sammie",
    "stephen": "steve steven stevie",
    "susan": "sue susie suzanne",
    "theodore": "theo",
    "thomas": "tom tommy",
    "timothy": "tim timmy",
    "victoria": "vicky tori",
    "william": "bill billy will willy liam",
    "zachary": "zach zack",
}

NICKNAMES: dict[str, str] = {}
for canonical, variants in _GROUPS.items():
    for variant in variants.split():
        NICKNAMES.setdefault(variant, canonical)


def canonical_first_name(name: str | None, extra: dict[str, str] | None = None) -> str | None:
    """The canonical given name for a normalised first name ('bob' -> 'robert')."""
    if not name:
        return None
    if extra and name in extra:
        return extra[name]
    return NICKNAMES.get(name, name)
