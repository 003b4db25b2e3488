"""Vocabularies shared by the sample generator (engine/sample/generator.py) and the scale
generator (bench/generate.py): names, nicknames, places, products, campaigns.

The story: Kettle & Crane, a UK/Irish coffee roaster with an online shop, four cafés with
tills, a beans subscription, a CRM for office-coffee leads, and a website with paid traffic.
Every string here is encodable in Windows-1252 (the till export uses it).
"""
from __future__ import annotations

# first name -> nicknames staff or people themselves type
NICKNAMES: dict[str, list[str]] = {
    "William": ["Will", "Bill", "Liam"], "Robert": ["Rob", "Bob", "Bobby"],
    "Elizabeth": ["Liz", "Beth", "Lizzie"], "Katherine": ["Kate", "Katie", "Kath"],
    "Margaret": ["Maggie", "Meg"], "James": ["Jim", "Jamie"], "Michael": ["Mike", "Mick"],
    "Jennifer": ["Jen", "Jenny"], "Alexander": ["Alex", "Sandy"], "Christopher": ["Chris"],
    "Daniel": ["Dan", "Danny"], "Thomas": ["Tom", "Tommy"], "Joseph": ["Joe"],
    "Samuel": ["Sam"], "Benjamin": ["Ben"], "Nicholas": ["Nick"], "Anthony": ["Tony"],
    "Edward": ["Ed", "Ted"], "Richard": ["Rich", "Rick"], "Patricia": ["Pat", "Trish"],
    "Susan": ["Sue"], "Rebecca": ["Becky", "Becca"], "Victoria": ["Vicky", "Tori"],
    "Jessica": ["Jess"], "Deborah": ["Debbie", "Deb"], "Stephanie": ["Steph"],
    "Matthew": ["Matt"], "Andrew": ["Andy", "Drew"], "Jonathan": ["Jon"],
    "Alexandra": ["Alex", "Lexi"], "Catherine": ["Cath", "Cat"], "Charlotte": ["Charlie", "Lottie"],
    "Eleanor": ["Ellie", "Nell"], "Frederick": ["Fred", "Freddie"], "Harriet": ["Hattie"],
    "Isabella": ["Bella", "Izzy"], "Oliver": ["Ollie"], "Timothy": ["Tim"], "Zoë": ["Zoe"],
    "Siobhán": ["Siobhan"], "Seán": ["Sean"], "José": ["Jose", "Pepe"], "Renée": ["Renee"],
    "Chloë": ["Chloe"], "Hélène": ["Helene"], "Björn": ["Bjorn"], "Padraig": ["Paddy"],
    "Gerard": ["Ger", "Gerry"], "Dorothy": ["Dot", "Dottie"], "Abigail": ["Abi", "Abby"],
}
FIRST_NAMES: list[str] = list(NICKNAMES) + [
    "Olivia", "Amelia", "Emily", "Sophie", "Grace", "Ava", "Mia", "Lucy", "Hannah", "Laura",
    "Sarah", "Emma", "Anna", "Ruth", "Aoife", "Niamh", "Priya", "Aisha", "Fatima", "Mei",
    "Harry", "George", "Jack", "Noah", "Leo", "Oscar", "Arthur", "Henry", "Callum", "Owen",
    "Rhys", "Cian", "Arjun", "Mohammed", "Omar", "Yusuf", "Kwame", "Tariq", "Lars", "Marek",
]
LAST_NAMES: list[str] = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood",
    "Jackson", "Clarke", "Patel", "Khan", "Lewis", "James", "Phillips", "Mason", "Mitchell",
    "Rose", "Davis", "Rodriguez", "Cox", "Alexander", "Campbell", "Murphy", "Kelly", "Byrne",
    "Ryan", "O'Brien", "O'Connor", "O'Sullivan", "McCarthy", "MacDonald", "McKenzie", "Doyle",
    "Walsh", "Kennedy", "Lynch", "Quinn", "Müller", "Schäfer", "García", "Núñez", "Fernández",
    "Łukasz", "Nowak", "Kowalski", "Rossi", "Bianchi", "Dubois", "Lefèvre", "Bergström",
    "Novák", "Ahmed", "Ali", "Hussain", "Begum", "Singh", "Kaur", "Chen", "Wang", "Nguyen",
    "Okafor", "Mensah", "Adeyemi", "Smith-Jones", "Harris", "Martin", "Cooper", "Ward",
    "Morris", "King", "Baker", "Hughes", "Edwards", "Turner", "Parker", "Collins", "Bell",
    "Cook", "Morgan", "Young", "Allen", "Scott", "Stewart", "Reid", "Fraser", "Gallagher",
]
# Łukasz is not in Windows-1252: keep the vocabulary encodable.
LAST_NAMES = [n for n in LAST_NAMES if n.encode("cp1252", "ignore").decode("cp1252") == n]

# The sample draws from wider lists: with only the names above, two strangers among 5,000
# customers share a full name about ten times as often as in the UK, and the review queue
# fills with namesakes no reviewer could tell apart. (bench/generate.py keeps the short lists.)
SAMPLE_FIRST_NAMES: list[str] = FIRST_NAMES + [
    "Isla", "Freya", "Poppy", "Evie", "Florence", "Millie", "Rosie", "Phoebe", "Imogen", "Matilda",
    "Ella", "Lily", "Ruby", "Alice", "Daisy", "Erin", "Holly", "Jasmine", "Megan", "Molly",
    "Orla", "Saoirse", "Ciara", "Caoimhe", "Róisín", "Eilidh", "Morag", "Catriona", "Bethan", "Ffion",
    "Carys", "Seren", "Nia", "Zara", "Layla", "Amira", "Hafsa", "Noor", "Ananya", "Divya",
    "Meera", "Simran", "Harpreet", "Chidinma", "Adaeze", "Ama", "Yaa", "Agnieszka", "Katarzyna", "Zofia",
    "Giulia", "Chiara", "Inès", "Camille", "Ingrid", "Astrid", "Paula", "Carmen", "Lucía", "Joanne",
    "Karen", "Tracey", "Nicola", "Claire", "Gemma", "Kirsty", "Leanne", "Helen", "Julie", "Alison",
    "Theo", "Archie", "Freddie", "Alfie", "Charlie", "Finley", "Reuben", "Toby", "Max", "Elliot",
    "Lewis", "Kieran", "Ross", "Fraser", "Angus", "Hamish", "Euan", "Gareth", "Dylan", "Ieuan",
    "Darragh", "Oisín", "Eoin", "Ronan", "Conor", "Fionn", "Declan", "Ciarán", "Aidan", "Brendan",
    "Imran", "Bilal", "Zain", "Hamza", "Ravi", "Sanjay", "Vikram", "Rohan", "Kofi", "Chinedu",
    "Emeka", "Tomasz", "Piotr", "Krzysztof", "Luca", "Marco", "Matteo", "Pierre", "Mathieu", "Nils",
    "Pablo", "Javier", "Gary", "Stuart", "Neil", "Graham", "Paul", "Mark", "Simon", "Darren",
]
SAMPLE_LAST_NAMES: list[str] = LAST_NAMES + [
    "Adams", "Atkinson", "Bailey", "Barker", "Barnes", "Bennett", "Berry", "Bird", "Bishop", "Black",
    "Bond", "Booth", "Bradley", "Brooks", "Bryant", "Burns", "Butler", "Carr", "Carter", "Chambers",
    "Chapman", "Clark", "Cole", "Coleman", "Cunningham", "Curtis", "Dawson", "Day", "Dean", "Dixon",
    "Douglas", "Duncan", "Ellis", "Elliott", "Farmer", "Fisher", "Fletcher", "Ford", "Foster", "Fox",
    "Francis", "Gardner", "Gibson", "Gill", "Gordon", "Graham", "Grant", "Gray", "Griffiths", "Hamilton",
    "Hardy", "Harper", "Harrison", "Hart", "Harvey", "Hawkins", "Hayes", "Henderson", "Hill", "Holland",
    "Holmes", "Hopkins", "Howard", "Hudson", "Hunt", "Hunter", "Jenkins", "Johnston", "Jordan", "Kay",
    "Knight", "Lane", "Lawrence", "Lawson", "Lee", "Lloyd", "Lowe", "Marsh", "Marshall", "Matthews",
    "Miller", "Mills", "Moore", "Morrison", "Moss", "Murray", "Newman", "Nicholls", "Owen", "Palmer",
    "Payne", "Pearce", "Pearson", "Perry", "Porter", "Powell", "Price", "Pritchard", "Rees", "Reynolds",
    "Richards", "Richardson", "Riley", "Robertson", "Rogers", "Russell", "Saunders", "Shaw", "Simpson", "Slater",
    "Spencer", "Stevens", "Stone", "Sutton", "Thomas", "Thomson", "Tucker", "Vaughan", "Wade", "Walters",
    "Watson", "Watts", "Webb", "Wells", "West", "Wheeler", "Whitehead", "Wilkinson", "Willis", "Woods",
    "Anderson", "Ross", "Paterson", "MacLeod", "Mackay", "Sinclair", "Ferguson", "Munro", "Sutherland", "Kerr",
    "Crawford", "Buchanan", "McLean", "McIntyre", "Drummond", "Cameron", "Baird", "Morton", "Hay", "Gunn",
    "Llewellyn", "Pugh", "Bowen", "Howells", "Jenkin", "Parry", "Prosser", "Meredith", "Gwynne", "Rowlands",
    "Brennan", "Burke", "Carroll", "Casey", "Daly", "Dunne", "Farrell", "Fitzgerald", "Flanagan", "Foley",
    "Hegarty", "Hennessy", "Keane", "Kavanagh", "Maguire", "McGrath", "Moran", "Nolan", "O'Donnell", "O'Neill",
    "O'Reilly", "O'Shea", "Power", "Regan", "Sheehan", "Sweeney", "Tierney", "Whelan", "Brady", "Connolly",
    "Chowdhury", "Rahman", "Islam", "Uddin", "Miah", "Iqbal", "Malik", "Qureshi", "Sheikh", "Akhtar",
    "Sharma", "Gupta", "Mehta", "Shah", "Joshi", "Desai", "Chauhan", "Sandhu", "Gill-Sandhu", "Dhillon",
    "Okonkwo", "Eze", "Nwosu", "Boateng", "Owusu", "Asante", "Osei", "Adebayo", "Oyelaran", "Bello",
    "Li", "Zhang", "Liu", "Huang", "Lin", "Tran", "Pham", "Le", "Kim", "Park",
    "Wiśniewska", "Zielinski", "Kaminski", "Lewandowski", "Wojcik", "Nowicki", "Dabrowski", "Mazur", "Krawczyk", "Jankowski",
    "Ricci", "Romano", "Colombo", "Esposito", "Moreau", "Laurent", "Girard", "Fontaine", "Santos", "Pereira",
    "Oliveira", "Costa", "Silva", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Jiménez", "Ruiz",
    "Lindqvist", "Johansson", "Hansen", "Larsen", "Jensen", "Andersen", "Schmidt", "Weber", "Fischer", "Becker",
]
SAMPLE_FIRST_NAMES = [n for n in dict.fromkeys(SAMPLE_FIRST_NAMES) if n.encode("cp1252", "ignore").decode("cp1252") == n]
SAMPLE_LAST_NAMES = [n for n in dict.fromkeys(SAMPLE_LAST_NAMES) if n.encode("cp1252", "ignore").decode("cp1252") == n]

# city, country, postcode outward codes, weight
CITIES: list[tuple[str, str, list[str], int]] = [
    ("London", "GB", ["E1", "E2", "E8", "N1", "N7", "N16", "SE1", "SE15", "SW4", "SW11", "W2", "NW5"], 30),
    ("Manchester", "GB", ["M1", "M4", "M14", "M20", "M21"], 12),
    ("Bristol", "GB", ["BS1", "BS3", "BS6", "BS8"], 9),
    ("Edinburgh", "GB", ["EH1", "EH3", "EH6", "EH9"], 8),
    ("Leeds", "GB", ["LS1", "LS6", "LS7"], 6),
    ("Birmingham", "GB", ["B1", "B13", "B15"], 6),
    ("Glasgow", "GB", ["G1", "G3", "G12"], 5),
    ("Brighton", "GB", ["BN1", "BN2", "BN3"], 4),
    ("Cardiff", "GB", ["CF10", "CF11", "CF24"], 3),
    ("Sheffield", "GB", ["S1", "S10", "S11"], 3),
    ("Oxford", "GB", ["OX1", "OX2", "OX4"], 2),
    ("Cambridge", "GB", ["CB1", "CB2", "CB4"], 2),
    ("Dublin", "IE", ["D02", "D04", "D06", "D08"], 7),
    ("Cork", "IE", ["T12", "T23"], 3),
]
STREETS: list[str] = [
    "High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Mill Lane",
    "Queen Street", "King Street", "Albert Road", "Green Lane", "Manor Road", "Grange Road",
    "Kingsway", "Orchard Close", "The Crescent", "Brook Street", "York Road", "Windsor Terrace",
    "Canal Street", "Harbour Way", "Market Place", "Chapel Street", "Elm Grove", "Oak Drive",
    "Willow Walk", "Meadow View", "Cedar Court", "Abbey Road", "Bridge Street", "Castle Hill",
]
STREET_ABBREVIATIONS = {"Street": "St", "Road": "Rd", "Avenue": "Ave", "Lane": "Ln",
                        "Drive": "Dr", "Terrace": "Terr", "Close": "Cl", "Court": "Ct"}

EMAIL_DOMAINS: list[tuple[str, int]] = [
    ("gmail.com", 40), ("outlook.com", 12), ("hotmail.co.uk", 10), ("yahoo.co.uk", 7),
    ("icloud.com", 10), ("btinternet.com", 4), ("live.ie", 3), ("proton.me", 2), ("sky.com", 2),
]
EMAIL_TYPO_DOMAINS = {"gmail.com": ["gmial.com", "gmail.con", "gmai.com"],
                      "outlook.com": ["outlok.com", "outlook.co"],
                      "hotmail.co.uk": ["hotmail.com", "hotmal.co.uk"],
                      "yahoo.co.uk": ["yahoo.com", "yaho.co.uk"],
                      "icloud.com": ["iclould.com"]}
COMPANIES: list[str] = [
    "Brightside Studio", "Harbour Legal LLP", "Northgate Dental", "Fernhill Architects",
    "Pixel & Pine", "Cobalt Analytics", "Greenway Lettings", "Atlas Physio", "Mossbank Books",
    "Quayside Consulting", "Redbrick Accounting", "Tidewater Media", "Oakleaf Nursery",
    "Lumen Labs", "Hawthorn & Co", "Sable Recruitment", "Copperfield Clinic", "Marlow Print",
]

# sku, name, category, price (GBP)
PRODUCTS: list[tuple[str, str, str, float]] = [
    ("BN-HOUSE-250", "House Blend 250g", "beans", 8.50),
    ("BN-HOUSE-1K", "House Blend 1kg", "beans", 27.00),
    ("BN-ETH-250", "Ethiopia Yirgacheffe 250g", "beans", 11.00),
    ("BN-COL-250", "Colombia Huila 250g", "beans", 10.00),
    ("BN-DECAF-250", "Swiss Water Decaf 250g", "beans", 9.50),
    ("BN-ESP-1K", "Crane Espresso 1kg", "beans", 29.00),
    ("EQ-V60", "V60 Dripper", "equipment", 22.00),
    ("EQ-AERO", "AeroPress Original", "equipment", 35.00),
    ("EQ-KETTLE", "Gooseneck Kettle", "equipment", 64.00),
    ("EQ-GRIND-H", "Hand Grinder", "equipment", 89.00),
    ("EQ-GRIND-E", "Electric Burr Grinder", "equipment", 219.00),
    ("EQ-SCALE", "Brew Scale", "equipment", 42.00),
    ("EQ-ESPRESSO", "Home Espresso Machine", "equipment", 449.00),
    ("MG-ENAMEL", "Enamel Mug", "merch", 14.00),
    ("MG-CERAMIC", "Ceramic Cup & Saucer", "merch", 18.00),
    ("TOTE-KC", "Kettle & Crane Tote", "merch", 12.00),
    ("GIFT-25", "Gift Card £25", "gift", 25.00),
    ("GIFT-50", "Gift Card £50", "gift", 50.00),
    ("CL-HOME", "Home Barista Class", "classes", 45.00),
]
# cafe items sold at the till
CAFE_ITEMS: list[tuple[str, float]] = [
    ("Flat White", 3.40), ("Latte", 3.50), ("Cortado", 3.10), ("Espresso", 2.50),
    ("Filter Coffee", 3.00), ("Chai Latte", 3.60), ("Croissant", 2.80), ("Banana Bread", 3.20),
    ("Cinnamon Bun", 3.40), ("Toastie", 6.50),
]
STORES: list[tuple[str, str]] = [
    ("Shoreditch", "London"), ("Northern Quarter", "Manchester"),
    ("Harbourside", "Bristol"), ("Old Town", "Edinburgh"), ("Temple Bar", "Dublin"),
]
STAFF: list[str] = ["Aoife", "Tom", "Priya", "Marek", "Grace", "Kwame", "Hannah", "Lars", "Mei"]

# plan, price, interval
PLANS: list[tuple[str, float, str]] = [
    ("Beans Monthly", 14.00, "month"), ("Beans Fortnightly", 24.00, "month"),
    ("Espresso Club", 29.00, "month"), ("Beans Annual", 150.00, "year"),
]
LEAD_STAGES: list[str] = ["subscriber", "lead", "marketing_qualified", "sales_qualified",
                          "opportunity", "customer"]
CRM_OWNERS: list[str] = ["Ruth Byrne", "Callum Reid", "Fatima Ali", "Oscar Lynch", "Mei Chen"]

# utm_source, utm_medium, referrer host, click id parameter, campaigns
CAMPAIGN_CHANNELS: list[tuple[str, str, str, str | None, list[str]]] = [
    ("google", "cpc", "www.google.com", "gclid", ["brand_search", "generic_coffee_beans", "grinders_q4"]),
    ("facebook", "paid_social", "m.facebook.com", "fbclid", ["autumn_blend_launch", "subscribe_save", "retarget_cart"]),
    ("instagram", "paid_social", "l.instagram.com", "fbclid", ["barista_reels", "gift_guide"]),
    ("newsletter", "email", None, None, ["weekly_roast", "black_friday_early", "new_origin"]),
    ("tiktok", "paid_social", "www.tiktok.com", None, ["latte_art"]),
]
ORGANIC_REFERRERS: list[str] = ["https://www.google.com/", "https://duckduckgo.com/",
                                "https://www.bing.com/", "https://www.reddit.com/r/Coffee/", ""]
USER_AGENTS: list[str] = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile Safari/537.36",
]
SITE = "https://www.kettleandcrane.co.uk"
CONSENT_PURPOSES: list[str] = ["analytics", "email", "advertising", "sale_sharing"]
CONSENT_METHODS: list[str] = ["signup_form", "checkout_checkbox", "preference_center",
                              "cookie_banner", "store_paper_form", "import"]
