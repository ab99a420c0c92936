"""The words of the demo conversations: how customers ask about each topic and how agents answer.

Customer questions are many and loose (slots such as ``{item}`` and ``{order}`` are filled by the
generator); agent answers are few per topic and each states every fact of the topic's policy, so the model
learns the policy rather than one sentence. All text is written for caretune; none comes from a dataset.
"""

from __future__ import annotations

QUESTIONS: dict[str, list[str]] = {
    "hours": [
        "what time does your support team open?",
        "are you guys available on weekends?",
        "what are your customer service hours?",
        "when can I talk to someone about my order?",
        "is anyone there on saturday?",
        "what hours is the help team online? tried calling at 9pm and nobody answered",
        "how late is customer support open on weekdays?",
        "do you answer messages on sundays?",
    ],
    "refunds": [
        "can I return my {item}? it doesn't fit",
        "how long do I have to return something?",
        "I want a refund for my {item}, {order}",
        "what's your return policy? bought a {item} last month",
        "the {item} isn't what I expected. can I send it back and get my money back?",
        "when will I get my refund? sent the {item} back last week",
        "do I get a refund if I return an unused {item}?",
        "how many days do I have to return an item I haven't used?",
    ],
    "shipping": [
        "how long does shipping take?",
        "how much is delivery?",
        "what are the shipping options? need my {item} by the weekend",
        "do you have express shipping? how much?",
        "how many days for standard delivery to {city}?",
        "what do you charge for shipping a {item}?",
        "if I order a {item} today when will it arrive?",
        "is next day delivery a thing with you?",
    ],
    "free_shipping": [
        "do you offer free shipping?",
        "how much do I need to spend for free delivery?",
        "is shipping free on bigger orders?",
        "is there a free shipping threshold?",
        "my cart is $60, do I get free shipping?",
        "when does shipping become free?",
    ],
    "password": [
        "I forgot my password, how do I reset it?",
        "can't log into my account, password not working",
        "how do I change my password? my email is {email}",
        "locked out of my account, help",
        "the password reset link you sent me doesn't work anymore",
        "how do I reset my login? tried 5 times",
        "never got the reset email. account is {email}",
    ],
    "warranty": [
        "my {item} broke after 8 months, is it under warranty?",
        "what warranty do you give on your own gear?",
        "the zip on my {item} failed, {order}. can you fix it?",
        "how do I make a warranty claim?",
        "is the Cairnline {item} covered if it breaks?",
        "seam on my {item} came apart on the first trip. warranty?",
        "how long is the warranty on a Cairnline {item}?",
    ],
    "tracking": [
        "where is my order? {order}",
        "how do I track my package?",
        "ordered a {item} 3 days ago and no tracking number yet",
        "can you tell me where my parcel is? {order}",
        "my {item} hasn't shipped?? when do I get tracking",
        "how can I see the status of my order?",
        "still waiting on my {item}, {order}, no updates at all",
    ],
    "exchanges": [
        "can I exchange my {item} for a bigger size?",
        "I need a different colour of the {item}, how do I swap it?",
        "do exchanges cost anything?",
        "how do I exchange a {item} that's too small? {order}",
        "wrong size {item}, can I swap it for a medium?",
        "how long do I have to exchange something?",
    ],
    "international": [
        "do you ship to {country}?",
        "how much is shipping to {country}?",
        "can I order from {country}? how long does it take?",
        "do you deliver internationally?",
        "will I pay customs if I order a {item} to {country}?",
        "international shipping cost and time please",
    ],
    "stores": [
        "do you have a store in {city}?",
        "where are your shops?",
        "can I try on a {item} in person somewhere?",
        "what are the store opening hours?",
        "is there a Cairnline store near {city}?",
        "where can I see your gear in real life?",
        "what's the address of your Portland store?",
    ],
    "loyalty": [
        "how does your rewards program work?",
        "is there a loyalty card?",
        "how do I use my points?",
        "is Basecamp Rewards free?",
        "how many points do I need for a discount?",
        "what do I get for joining the rewards thing?",
    ],
    "price_match": [
        "do you price match?",
        "saw the {item} cheaper elsewhere, can you match the price?",
        "bought a {item} last week and it's now cheaper at another shop. can I get the difference?",
        "do you match competitors' prices?",
        "will you match an amazon marketplace price for the {item}?",
    ],
    "cancel": [
        "I need to cancel my order {order}",
        "how do I cancel an order?",
        "ordered the wrong {item} by accident, can I cancel?",
        "can I still cancel? placed the order 20 min ago",
        "cancel my order please, {order}",
        "is it too late to cancel my {item} order?",
    ],
    "damaged": [
        "my {item} arrived damaged",
        "the box was crushed and the {item} is broken. {order}",
        "received a torn {item}, what do I do?",
        "package came damaged, {order}",
        "the {item} I got has a hole in it straight out of the box",
        "delivery arrived wrecked. want a new {item}",
    ],
    "gift_cards": [
        "do gift cards expire?",
        "how do I check my gift card balance?",
        "can I get cash back for a gift card?",
        "got a gift card for christmas 2 years ago, still valid?",
        "can I use a gift card online?",
    ],
}

# Each answer states every fact in caretune.data.demo.policies.POLICIES[topic].facts (a test checks this).
ANSWERS: dict[str, list[str]] = {
    "hours": [
        "Our support team is here Monday to Friday 8am to 8pm ET, and 10am to 4pm ET on weekends.",
        "You can reach us Monday to Friday from 8am to 8pm ET. On Saturdays and Sundays we're online 10am to 4pm ET.",
        "We're around 8am to 8pm ET on weekdays and 10am to 4pm ET on Saturday and Sunday. Messages outside those "
        "hours are answered first thing the next day.",
    ],
    "refunds": [
        "You can return unused items with the tags on within 45 days of delivery. Once the return reaches us, the "
        "refund goes to your original payment method within 5 to 7 business days.",
        "Returns are accepted within 45 days of delivery as long as the item is unused with tags. We refund to the "
        "original payment method 5 to 7 business days after it arrives back with us.",
        "No problem: you have 45 days from delivery to return unused gear with tags. Start it in the Returns "
        "Centre and the refund lands on your original payment method within 5 to 7 business days.",
    ],
    "shipping": [
        "Standard shipping takes 3 to 5 business days and costs $5.95. Express takes 1 to 2 business days for "
        "$14.95.",
        "We offer standard delivery (3 to 5 business days, $5.95) and express (1 to 2 business days, $14.95). "
        "Orders over $75 ship standard for free.",
        "Standard is $5.95 and arrives in 3 to 5 business days; express is $14.95 and arrives in 1 to 2 business "
        "days.",
    ],
    "free_shipping": [
        "Standard shipping is free on every order over $75 within the US.",
        "Yes! Spend over $75 and standard shipping is on us (US orders).",
        "Orders over $75 get free standard shipping in the US. Below that, standard is $5.95.",
    ],
    "password": [
        "Click 'Forgot password?' on the sign-in page and we'll email you a reset link. The link works for 30 "
        "minutes, so use it right away (and check your spam folder).",
        "Use the 'Forgot password?' link on the sign-in page. The email we send has a link that's valid for 30 "
        "minutes; if it has expired, just request a new one.",
        "Head to the sign-in page and choose 'Forgot password?'. You'll get an email with a reset link that "
        "expires after 30 minutes.",
    ],
    "warranty": [
        "All Cairnline-brand gear has a 2-year warranty against manufacturing defects. You can file a claim at "
        "cairnline.example/warranty with a few photos and your order number.",
        "Our own Cairnline gear comes with a 2-year warranty covering manufacturing defects. Start a claim at "
        "cairnline.example/warranty and attach photos of the problem.",
        "That sounds like it's covered by our 2-year warranty on Cairnline-brand gear. Please submit photos at "
        "cairnline.example/warranty and we'll take it from there.",
    ],
    "tracking": [
        "We email a tracking link within 24 hours of your order leaving our warehouse. You can also track it at "
        "cairnline.example/track with your order number and email.",
        "You'll get a tracking email within 24 hours of dispatch. Anytime, you can check cairnline.example/track "
        "using your order number and email address.",
        "Tracking details go out by email within 24 hours of dispatch, and cairnline.example/track shows the "
        "latest status with your order number.",
    ],
    "exchanges": [
        "Exchanges for another size or colour are free within 60 days. Just start one in the Returns Centre and "
        "choose 'Exchange'.",
        "You can swap for a different size or colour for free within 60 days of delivery via the Returns Centre.",
        "Happy to help! Exchanges are free within 60 days: open the Returns Centre, pick the item and select "
        "'Exchange'.",
    ],
    "international": [
        "We ship to Canada, the UK, the EU and Australia for a flat $24.95. Delivery takes 7 to 14 business days, "
        "and any customs duties are paid by the customer on delivery.",
        "Yes, we deliver to Canada, the UK, the EU and Australia. It's a flat $24.95 and takes 7 to 14 business "
        "days; duties and taxes are collected on delivery.",
        "International orders (Canada, UK, EU, Australia) cost a flat $24.95 and arrive in 7 to 14 business days. "
        "Customs duties are the customer's responsibility.",
    ],
    "stores": [
        "We have stores in Denver (1450 Larimer St), Portland (820 NW Glisan St) and Salt Lake City (255 S State "
        "St), all open 10am to 7pm daily.",
        "You can visit us in Denver, Portland or Salt Lake City. All three stores are open 10am to 7pm every day.",
        "Our shops are in Denver (1450 Larimer St), Portland (820 NW Glisan St) and Salt Lake City (255 S State "
        "St). Opening hours are 10am to 7pm, seven days a week.",
    ],
    "loyalty": [
        "Basecamp Rewards is free to join: you earn 1 point per $1 and 200 points gets you $10 off. Members also "
        "get free returns.",
        "With Basecamp Rewards you collect 1 point for every $1 spent; every 200 points is $10 off your next "
        "order. It's free, and members return for free too.",
        "Join Basecamp Rewards for free at checkout. 200 points (that's $200 spent) turns into $10 off.",
    ],
    "price_match": [
        "We price match identical items from authorised US retailers within 14 days of your purchase. "
        "Marketplace sellers and clearance prices aren't included.",
        "Yes, we price match! If an authorised US retailer sells the same item for less within 14 days of your "
        "purchase, we'll refund the difference (not marketplace or clearance prices).",
        "Our price match covers the identical item at an authorised US retailer, within 14 days of purchase. "
        "Marketplace listings and clearance sales don't qualify.",
    ],
    "cancel": [
        "Orders can be cancelled within 1 hour of placing them from Order History in your account. After that it "
        "has usually shipped, but you can return it once it arrives.",
        "You can cancel within 1 hour of ordering: go to Order History and choose 'Cancel order'. Later than that, "
        "please return it when it arrives.",
        "If it's been less than 1 hour, you can cancel it yourself in Order History. After the hour it's already "
        "being packed, so a return is the way to go.",
    ],
    "damaged": [
        "So sorry about that! Please send us photos within 7 days of delivery and we'll ship a free replacement "
        "right away.",
        "That's not how it should arrive. Send photos of the item and the box within 7 days of delivery and a "
        "free replacement is on its way.",
        "Sorry it arrived damaged! If you share photos within 7 days of delivery, we'll send a free replacement.",
    ],
    "gift_cards": [
        "Cairnline gift cards never expire. They can't be exchanged for cash, and you can check the balance at "
        "cairnline.example/giftcard.",
        "Good news, our gift cards never expire! Check your balance anytime at cairnline.example/giftcard (they "
        "can't be redeemed for cash).",
        "Gift cards never expire and work online and in our stores. The balance is at cairnline.example/giftcard.",
    ],
}

GREETINGS = ["Hi there!", "Hey!", "Hi!", "Thanks for reaching out!", "Hello!", "Hi, thanks for asking!", ""]
APOLOGIES = ["Sorry for the trouble!", "We're sorry about this.", "Really sorry for the frustration."]
ORDER_ASKS = [
    "If you DM us your order number we can check it for you.",
    "Feel free to DM us your order number and we'll take a look.",
]
AGENT_INITIALS = ["JK", "MR", "AL", "TS", "PB", "DW", "NC", "EO"]

THANKS = [
    "thanks!",
    "perfect, thank you",
    "ok cool thx",
    "great, thanks for the quick reply 🙏",
    "got it, appreciate it",
    "thank you so much!",
    "awesome",
    "ok thanks. that helps",
]
WELCOMES = [
    "You're welcome! Enjoy the trails 🏔️",
    "Anytime! Have a great day.",
    "Glad we could help!",
    "No problem at all. Happy adventuring!",
]
FOLLOW_UP_LEADS = ["ok and ", "thanks. also ", "one more thing, ", "cool. ", "and ", "great! "]
ANGRY_PREFIXES = ["seriously??", "this is ridiculous.", "third time asking.", "ugh.", "not happy."]
POLITE_PREFIXES = ["Hello, ", "Hi there, ", "Good morning! ", "Hi team, "]
POLITE_SUFFIXES = [" Thank you!", " Many thanks.", " Thanks in advance.", " Cheers"]
CONTEXT_SENTENCES = [
    "Going camping next weekend.",
    "First time ordering from you.",
    "Bought it as a gift for my brother.",
    "Planning a thru-hike this summer.",
    "Love your stuff btw.",
    "Quick question.",
    "Heading to the Rockies in two weeks.",
    "My partner ordered on my account.",
    "Couldn't find this on your website.",
    "Asking for my dad.",
    "Sorry if this was asked before.",
    "Long time customer here.",
]

ITEMS = ["tent", "rain jacket", "sleeping bag", "pair of hiking boots", "backpack", "fleece", "headlamp", "trekking pole",
         "down jacket", "camp stove", "water filter", "daypack"]
CITIES = ["Denver", "Portland", "Seattle", "Boise", "Austin", "Salt Lake City", "Chicago", "Boulder"]
COUNTRIES = ["Canada", "the UK", "Germany", "France", "Australia", "Ireland", "the Netherlands", "Spain"]
FIRST_NAMES = ["jamie", "alex", "sam", "maria", "chris", "taylor", "jordan", "priya", "lee", "noah"]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]
