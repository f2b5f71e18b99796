"""Vocabulary of the synthetic generator: categories, brands, countries, cities, names (text tables)."""

from __future__ import annotations

from typing import NamedTuple


# Vocabulary, kept as compact text tables (one row a line) and parsed once at import.
class CategorySpec(NamedTuple):
    """Whole-dollar price range, brands and product nouns of one category."""

    price_min: int
    price_max: int
    brands: tuple[str, ...]
    nouns: tuple[str, ...]


class City(NamedTuple):
    """A city with its state and rough coordinates."""

    name: str
    state: str
    state_code: str
    lat: float
    lng: float


class Country(NamedTuple):
    """Country facts used to build addresses, phones and bank details."""

    currency: str
    iban_prefix: str
    phone_code: str
    postal_pattern: str
    cities: tuple[City, ...]


def _rows(table: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("|")] for line in table.strip().splitlines()]


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in text.split(",") if word.strip())


# category | min $ | max $ | brands | nouns
_CATEGORY_TABLE = """
beauty | 4 | 29 | Essence,Glamour Beauty,Velvet Touch | Mascara,Lipstick,Eyeshadow Palette,Nail Polish
fragrances | 29 | 149 | Calvin Klein,Chanel,Dior,Gucci | Eau de Parfum,Cologne,Perfume,Body Mist
furniture | 149 | 2499 | Annibale Colombo,Knoll,Bedsure | Bed,Sofa,Office Chair,Bedside Table,Dining Table
groceries | 0 | 19 | Fresh Farms,Green Valley,Daily Harvest | Apples,Beef Steak,Cat Food,Cooking Oil,Eggs,Rice
home-decoration | 9 | 79 | Casa Bella,Lumina,Home Decor | Wall Clock,Photo Frame,Table Lamp,Plant Pot
kitchen-accessories | 3 | 89 | Chef's Choice,KitchenAid | Bamboo Spatula,Chopping Board,Lunch Box,Mug,Pan
laptops | 699 | 2499 | Apple,Asus,Huawei,Lenovo,Dell | MacBook Pro,Zenbook,Matebook,Yoga,XPS Laptop
mens-shirts | 14 | 59 | Fashion Trends,Classic Wear | Checkered Shirt,Polo Shirt,Denim Shirt,Plaid Shirt
mens-shoes | 39 | 199 | Nike,Puma,Off White,Adidas | Sneakers,Running Shoes,Football Boots,Loafers
mens-watches | 79 | 4999 | Rolex,Longines,Casio | Chronograph,Diver Watch,Dress Watch,Smart Watch
mobile-accessories | 9 | 549 | Apple,Amazon,Beats,Samsung | AirPods,Charger,Power Bank,Phone Case,Earphones
motorcycle | 1999 | 4999 | Kawasaki,MotoGP,ScootMotor | Motorcycle,Scooter,Sportbike,Cruiser
skin-care | 5 | 39 | Olay,Vaseline,Attitude | Body Lotion,Face Cream,Sunscreen,Moisturizer
smartphones | 149 | 1499 | Apple,Oppo,Realme,Samsung,Vivo | iPhone,Galaxy,Reno,Narzo,Smartphone
sports-accessories | 5 | 149 | Wilson,Spalding,Yonex | Baseball Glove,Basketball,Cricket Bat,Tennis Racket
sunglasses | 14 | 249 | Ray-Ban,Oakley,Fashion Fun | Aviators,Round Sunglasses,Sports Sunglasses
tablets | 199 | 1299 | Apple,Samsung,Xiaomi | iPad,Galaxy Tab,Pad,Tablet
tops | 12 | 59 | Fashion Trends,Blue Bell,Sunny Days | Blue Frock,Summer Dress,Tank Top,Short Frock
vehicle | 2999 | 4999 | Dodge,Chrysler,Mercedes Benz | Electric Scooter,Go Kart,Quad Bike,Mini Car
womens-bags | 39 | 599 | Prada,Heshe,Elegance Collection | Handbag,Tote Bag,Crossbody Bag,Clutch
womens-dresses | 29 | 199 | Dress Me Up,Classic Wear,Corset Co. | Gown,Corset Dress,Maxi Dress,Red Dress
womens-jewellery | 14 | 299 | Golden Hour,Silver Line,Pearl Co. | Earrings,Necklace,Tropical Earring,Bracelet
womens-shoes | 19 | 149 | Pampi,Comfort Trends,Heels Co. | Heels,Sandals,Pumps,Ballet Flats
womens-watches | 99 | 4999 | IWC,Rolex,Fossil,Casio | Ladies Watch,Moonphase Watch,Mini Watch,Fashion Watch
"""
CATEGORIES: dict[str, CategorySpec] = {
    name: CategorySpec(int(low), int(high), _words(brands), _words(nouns))
    for name, low, high, brands, nouns in _rows(_CATEGORY_TABLE)
}
CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORIES)

# country | currency | IBAN prefix | phone code | postal pattern | city | state | state code | lat | lng
_CITY_TABLE = """
United States  | USD | US | +1  | #####     | New York       | New York              | NY  | 40.71  | -74.01
United States  | USD | US | +1  | #####     | Phoenix        | Arizona               | AZ  | 33.45  | -112.07
United States  | USD | US | +1  | #####     | Chicago        | Illinois              | IL  | 41.88  | -87.63
United States  | USD | US | +1  | #####     | San Francisco  | California            | CA  | 37.77  | -122.42
United States  | USD | US | +1  | #####     | Austin         | Texas                 | TX  | 30.27  | -97.74
Canada         | CAD | CA | +1  | ?#? #?#   | Toronto        | Ontario               | ON  | 43.65  | -79.38
Canada         | CAD | CA | +1  | ?#? #?#   | Vancouver      | British Columbia      | BC  | 49.28  | -123.12
Canada         | CAD | CA | +1  | ?#? #?#   | Montreal       | Quebec                | QC  | 45.50  | -73.57
United Kingdom | GBP | GB | +44 | ??# #??   | London         | England               | ENG | 51.51  | -0.13
United Kingdom | GBP | GB | +44 | ??# #??   | Manchester     | England               | ENG | 53.48  | -2.24
United Kingdom | GBP | GB | +44 | ??# #??   | Edinburgh      | Scotland              | SCT | 55.95  | -3.19
Germany        | EUR | DE | +49 | #####     | Berlin         | Berlin                | BE  | 52.52  | 13.40
Germany        | EUR | DE | +49 | #####     | Munich         | Bavaria               | BY  | 48.14  | 11.58
Germany        | EUR | DE | +49 | #####     | Hamburg        | Hamburg               | HH  | 53.55  | 9.99
France         | EUR | FR | +33 | #####     | Paris          | Ile-de-France         | IDF | 48.86  | 2.35
France         | EUR | FR | +33 | #####     | Lyon           | Auvergne-Rhone-Alpes  | ARA | 45.76  | 4.84
France         | EUR | FR | +33 | #####     | Marseille      | Provence-Alpes-Cote   | PAC | 43.30  | 5.37
Spain          | EUR | ES | +34 | #####     | Madrid         | Madrid                | MD  | 40.42  | -3.70
Spain          | EUR | ES | +34 | #####     | Barcelona      | Catalonia             | CT  | 41.39  | 2.17
Spain          | EUR | ES | +34 | #####     | Valencia       | Valencia              | VC  | 39.47  | -0.38
Italy          | EUR | IT | +39 | #####     | Rome           | Lazio                 | LAZ | 41.90  | 12.50
Italy          | EUR | IT | +39 | #####     | Milan          | Lombardy              | LOM | 45.46  | 9.19
Italy          | EUR | IT | +39 | #####     | Naples         | Campania              | CAM | 40.85  | 14.27
Netherlands    | EUR | NL | +31 | #### ??   | Amsterdam      | North Holland         | NH  | 52.37  | 4.90
Netherlands    | EUR | NL | +31 | #### ??   | Rotterdam      | South Holland         | ZH  | 51.92  | 4.48
Netherlands    | EUR | NL | +31 | #### ??   | Utrecht        | Utrecht               | UT  | 52.09  | 5.12
Sweden         | SEK | SE | +46 | ### ##    | Stockholm      | Stockholm             | AB  | 59.33  | 18.07
Sweden         | SEK | SE | +46 | ### ##    | Gothenburg     | Vastra Gotaland       | O   | 57.71  | 11.97
Sweden         | SEK | SE | +46 | ### ##    | Malmo          | Skane                 | M   | 55.60  | 13.00
Australia      | AUD | AU | +61 | ####      | Sydney         | New South Wales       | NSW | -33.87 | 151.21
Australia      | AUD | AU | +61 | ####      | Melbourne      | Victoria              | VIC | -37.81 | 144.96
Australia      | AUD | AU | +61 | ####      | Brisbane       | Queensland            | QLD | -27.47 | 153.03
Japan          | JPY | JP | +81 | ###-####  | Tokyo          | Tokyo                 | 13  | 35.68  | 139.69
Japan          | JPY | JP | +81 | ###-####  | Osaka          | Osaka                 | 27  | 34.69  | 135.50
Japan          | JPY | JP | +81 | ###-####  | Sapporo        | Hokkaido              | 01  | 43.06  | 141.35
India          | INR | IN | +91 | ######    | Mumbai         | Maharashtra           | MH  | 19.08  | 72.88
India          | INR | IN | +91 | ######    | Bengaluru      | Karnataka             | KA  | 12.97  | 77.59
India          | INR | IN | +91 | ######    | Delhi          | Delhi                 | DL  | 28.70  | 77.10
Brazil         | BRL | BR | +55 | #####-### | Sao Paulo      | Sao Paulo             | SP  | -23.55 | -46.63
Brazil         | BRL | BR | +55 | #####-### | Rio de Janeiro | Rio de Janeiro        | RJ  | -22.91 | -43.17
Brazil         | BRL | BR | +55 | #####-### | Brasilia       | Distrito Federal      | DF  | -15.79 | -47.88
Mexico         | MXN | MX | +52 | #####     | Mexico City    | Ciudad de Mexico      | CMX | 19.43  | -99.13
Mexico         | MXN | MX | +52 | #####     | Guadalajara    | Jalisco               | JAL | 20.66  | -103.35
Mexico         | MXN | MX | +52 | #####     | Monterrey      | Nuevo Leon            | NLE | 25.69  | -100.32
South Africa   | ZAR | ZA | +27 | ####      | Cape Town      | Western Cape          | WC  | -33.92 | 18.42
South Africa   | ZAR | ZA | +27 | ####      | Johannesburg   | Gauteng               | GP  | -26.20 | 28.05
South Africa   | ZAR | ZA | +27 | ####      | Durban         | KwaZulu-Natal         | KZN | -29.86 | 31.02
"""


def _countries(table: str) -> dict[str, Country]:
    countries: dict[str, Country] = {}
    for name, currency, iban, phone, postal, city, state, code, lat, lng in _rows(table):
        known = countries.get(name, Country(currency, iban, phone, postal, ()))
        countries[name] = known._replace(cities=(*known.cities, City(city, state, code, float(lat), float(lng))))
    return countries


COUNTRIES: dict[str, Country] = _countries(_CITY_TABLE)
COUNTRY_NAMES: tuple[str, ...] = tuple(COUNTRIES)
# The real users all live in the United States; keep it the largest group so the data still looks familiar.
COUNTRY_WEIGHTS: tuple[int, ...] = tuple(30 if name == "United States" else 5 for name in COUNTRY_NAMES)

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "female": _words(
        "Emily,Olivia,Sophia,Emma,Ava,Isabella,Mia,Charlotte,Amelia,Harper,Evelyn,Abigail,Ella,Chloe,Lily,"
        "Aisha,Yuki,Priya,Lucia,Ingrid"
    ),
    "male": _words(
        "Michael,James,William,Alexander,Ethan,Daniel,Henry,Liam,Noah,Lucas,Mason,Logan,Jacob,Oliver,"
        "Benjamin,Mateo,Hiroshi,Arjun,Luca,Lars"
    ),
}
FIRST_NAMES_ALL = FIRST_NAMES["female"] + FIRST_NAMES["male"]
LAST_NAMES = _words(
    "Johnson,Williams,Brown,Jones,Garcia,Miller,Davis,Rodriguez,Martinez,Wilson,Anderson,Taylor,Thomas,Moore,"
    "Jackson,Martin,Lee,Thompson,White,Harris,Clark,Lewis,Walker,Hall,Young,Muller,Rossi,Tanaka,Sharma,Silva"
)
ADJECTIVES = _words("Classic,Premium,Essential,Eco,Pro,Lite,Deluxe,Urban,Vintage,Smart,Max")
STREETS = _words(
    "Main Street,Oak Street,Pine Street,Maple Avenue,Cedar Lane,Elm Street,Park Avenue,Lake Road,Hill Street,"
    "River Road,Sunset Boulevard,Tenth Street"
)
EYE_COLORS = _words("Brown,Hazel,Green,Blue,Gray,Amber")
HAIR_COLORS = _words("Brown,Black,Blonde,Red,Gray,White")
HAIR_TYPES = _words("Curly,Straight,Wavy,Kinky")
UNIVERSITIES = _words(
    "University of Wisconsin--Madison,Ohio State University,University of Toronto,University of Melbourne,"
    "Technical University of Munich,University of Tokyo,Sorbonne University,University of Cape Town"
)
CARD_TYPES = _words("Mastercard,Visa,American Express,Discover,UnionPay,JCB,Diners Club International")
DEPARTMENTS = _words(
    "Marketing,Legal,Research and Development,Support,Engineering,Human Resources,Services,Accounting,"
    "Product Management,Sales,Training,Business Development"
)
JOB_TITLES = _words(
    "Sales Manager,Web Developer,Accountant,Support Specialist,Product Manager,Research Analyst,"
    "Legal Advisor,Marketing Coordinator,HR Manager,Data Engineer"
)
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/96.0.4664.93 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1",
)
WARRANTIES = _words("1 week warranty,1 month warranty,6 months warranty,1 year warranty,No warranty")
SHIPPING = _words("Ships in 1-2 business days,Ships in 3-5 business days,Ships in 1 week,Ships overnight")
RETURN_POLICIES = _words("No return policy,7 days return policy,30 days return policy,90 days return policy")
REVIEW_COMMENTS = _words(
    "Would not recommend!,Very satisfied!,Highly impressed!,Great value!,Disappointing product!,Excellent quality!"
)
