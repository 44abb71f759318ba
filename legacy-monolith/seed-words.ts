/** Word lists the seed builds plausible demo data from. Changing them changes the seed. */

/** A category of the demo catalog and what its products are made of. */
export interface SeedCategory {
  readonly slug: string;
  readonly name: string;
  readonly skuPrefix: string;
  readonly nouns: readonly string[];
  /** Whole-dollar price range of its products. */
  readonly dollars: readonly [min: number, max: number];
  readonly features: readonly string[];
}

export const CATEGORIES: readonly SeedCategory[] = [
  {
    slug: 'kitchen',
    name: 'Kitchen',
    skuPrefix: 'KIT',
    nouns: [
      'Chef Knife',
      'Cutting Board',
      'Saucepan',
      'Skillet',
      'Mixing Bowl',
      'Colander',
      'Tea Kettle',
      'Coffee Grinder',
      'Dutch Oven',
      'Salad Spinner',
    ],
    dollars: [6, 180],
    features: [
      'Dishwasher safe.',
      'Oven safe up to 230 °C.',
      'Works on induction hobs.',
      'Comes with a ten-year guarantee.',
    ],
  },
  {
    slug: 'garden',
    name: 'Garden',
    skuPrefix: 'GAR',
    nouns: [
      'Trowel',
      'Pruning Shears',
      'Watering Can',
      'Planter',
      'Garden Hose',
      'Leaf Rake',
      'Seed Tray',
      'Kneeling Pad',
      'Compost Bin',
      'Hedge Trimmer',
    ],
    dollars: [4, 150],
    features: [
      'Weatherproof finish.',
      'Rust-resistant steel.',
      'Made from recycled plastic.',
      'Folds flat for storage.',
    ],
  },
  {
    slug: 'books',
    name: 'Books',
    skuPrefix: 'BOK',
    nouns: [
      'Field Guide',
      'Cookbook',
      'Atlas',
      'Novel',
      'Anthology',
      'Handbook',
      'Memoir',
      'Workbook',
      'Poetry Collection',
      'Travel Journal',
    ],
    dollars: [7, 45],
    features: [
      'Hardcover with sewn binding.',
      'Printed on acid-free paper.',
      'Includes an index and maps.',
      'Illustrated throughout.',
    ],
  },
  {
    slug: 'electronics',
    name: 'Electronics',
    skuPrefix: 'ELE',
    nouns: [
      'Headphones',
      'Bluetooth Speaker',
      'USB-C Charger',
      'Power Bank',
      'Desk Lamp',
      'Webcam',
      'Keyboard',
      'Wireless Mouse',
      'Smart Plug',
      'HDMI Cable',
    ],
    dollars: [9, 350],
    features: [
      'Two-year warranty.',
      'Charges over USB-C.',
      'Up to 20 hours of battery life.',
      'Firmware updates over the air.',
    ],
  },
  {
    slug: 'outdoors',
    name: 'Outdoors',
    skuPrefix: 'OUT',
    nouns: [
      'Tent',
      'Sleeping Bag',
      'Headlamp',
      'Water Bottle',
      'Daypack',
      'Camp Stove',
      'Trekking Poles',
      'Hammock',
      'Cooler',
      'Rain Poncho',
    ],
    dollars: [12, 450],
    features: [
      'Packs down small.',
      'Tested from -5 °C to 35 °C.',
      'Water-repellent coating.',
      'Weighs under a kilogram.',
    ],
  },
  {
    slug: 'toys',
    name: 'Toys',
    skuPrefix: 'TOY',
    nouns: [
      'Puzzle',
      'Building Blocks',
      'Kite',
      'Plush Bear',
      'Board Game',
      'Yo-Yo',
      'Train Set',
      'Marble Run',
      'Puppet',
      'Spinning Top',
    ],
    dollars: [5, 90],
    features: [
      'For ages 3 and up.',
      'Non-toxic paints.',
      'No batteries needed.',
      'Comes in a reusable tin.',
    ],
  },
  {
    slug: 'office',
    name: 'Office',
    skuPrefix: 'OFF',
    nouns: [
      'Stapler',
      'Desk Organizer',
      'Fountain Pen',
      'Notebook',
      'Monitor Stand',
      'Whiteboard',
      'Paper Tray',
      'Desk Mat',
      'Bookends',
      'Label Maker',
    ],
    dollars: [3, 250],
    features: [
      'Refillable.',
      'Fits A4 and Letter sizes.',
      'Non-slip base.',
      'Assembled in minutes.',
    ],
  },
  {
    slug: 'apparel',
    name: 'Apparel',
    skuPrefix: 'APP',
    nouns: [
      'T-Shirt',
      'Hoodie',
      'Rain Jacket',
      'Wool Socks',
      'Beanie',
      'Scarf',
      'Sneakers',
      'Denim Jeans',
      'Fleece Vest',
      'Canvas Belt',
    ],
    dollars: [8, 220],
    features: ['Machine washable.', 'Organic cotton.', 'Ethically made.', 'True to size.'],
  },
];

export const ADJECTIVES: readonly string[] = [
  'Classic',
  'Compact',
  'Deluxe',
  'Everyday',
  'Heritage',
  'Lightweight',
  'Modern',
  'Premium',
  'Rugged',
  'Slim',
  'Sturdy',
  'Travel',
  'Urban',
  'Vintage',
  'Essential',
];

export const COLOURS: readonly string[] = [
  'Black',
  'Slate',
  'Sage',
  'Navy',
  'Walnut',
  'Ivory',
  'Copper',
  'Graphite',
  'Olive',
  'Coral',
  'Sand',
  'Crimson',
];

/** `{a adjective}` and `{a colour}` take the right article ("an everyday", "a navy"). */
export const DESCRIPTION_OPENERS: readonly string[] = [
  'Meet {a adjective} {noun} in {colour}, built for daily use.',
  'Our {adjective} {noun} comes in {colour} and keeps things simple.',
  'The {noun} customers keep coming back for, now in {colour}.',
  '{A colour} {noun} with {a adjective} design that lasts.',
];

export const FIRST_NAMES: readonly string[] = [
  'Ada',
  'Bruno',
  'Chiara',
  'Dmitri',
  'Elena',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kemal',
  'Lena',
  'Mateo',
  'Nadia',
  'Oskar',
  'Priya',
  'Quentin',
  'Rosa',
  'Samir',
  'Tove',
];

export const LAST_NAMES: readonly string[] = [
  'Andersen',
  'Bianchi',
  'Chen',
  'Dubois',
  'Eriksen',
  'Fischer',
  'Garcia',
  'Haddad',
  'Ivanova',
  'Jensen',
  'Kowalski',
  'Lopez',
  'Moreau',
  'Nakamura',
  'Okafor',
  'Petrov',
  'Quinn',
  'Rossi',
  'Silva',
  'Tanaka',
];

/** Review titles by rating (index 0 = 1 star). */
export const REVIEW_TITLES: readonly (readonly string[])[] = [
  ['Disappointed', 'Broke within a week', 'Not as described', 'Would not buy again'],
  ['Meh', 'Below expectations', 'Cheaply made', 'Returned it'],
  ['Does the job', 'Okay for the price', 'Average', 'Mixed feelings'],
  ['Very good', 'Solid purchase', 'Happy with it', 'Good value'],
  ['Excellent!', 'Love it', 'Exactly what I wanted', 'Best purchase this year'],
];

/** Review sentences by rating (index 0 = 1 star). */
export const REVIEW_SENTENCES: readonly (readonly string[])[] = [
  [
    'It stopped working after a few days.',
    'The finish started peeling right away.',
    'Support never answered my emails.',
    'Much smaller than the photos suggest.',
  ],
  [
    'It works, but it feels flimsy.',
    'Delivery took almost three weeks.',
    'The colour is duller than pictured.',
    'I expected better for the money.',
  ],
  [
    'It is fine for occasional use.',
    'Nothing special, nothing wrong.',
    'Packaging was excessive.',
    'Does what it says, no more.',
  ],
  [
    'Well made and arrived quickly.',
    'I use it almost every day.',
    'Good quality for the price.',
    'Would recommend to friends.',
  ],
  [
    'Beautifully made and a joy to use.',
    'Exceeded my expectations in every way.',
    'I bought a second one as a gift.',
    'Five stars without hesitation.',
  ],
];
