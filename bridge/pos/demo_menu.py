"""The demo POS's menu: a small pizzeria, in the JSON form `bridge.domain.menus` reads."""
from __future__ import annotations

MENU = {
    "menus": [{"id": "main", "name": "Menu", "description": "Served all day",
               "sectionIds": ["pizza", "salads", "drinks"]}],
    "sections": [
        {"id": "pizza", "name": "Pizza", "itemIds": ["margherita", "pepperoni", "funghi"]},
        {"id": "salads", "name": "Salads", "itemIds": ["caesar", "greek"]},
        {"id": "drinks", "name": "Drinks", "itemIds": ["lemonade", "espresso"]},
    ],
    "items": [
        {"id": "margherita", "name": "Margherita Pizza",
         "description": "Tomato, mozzarella, basil",
         "variants": [{"variantId": "small", "price": "11.00"},
                      {"variantId": "large", "price": "14.00"}],
         "modifierGroupIds": ["toppings"]},
        {"id": "pepperoni", "name": "Pepperoni Pizza", "price": "15.50",
         "modifierGroupIds": ["toppings"]},
        {"id": "funghi", "name": "Funghi Pizza", "price": "14.75",
         "modifierGroupIds": ["toppings"], "inStock": False},
        {"id": "caesar", "name": "Caesar Salad", "price": "9.50",
         "modifierGroupIds": ["dressing"]},
        {"id": "greek", "name": "Greek Salad", "price": "9.00", "modifierGroupIds": ["dressing"]},
        {"id": "lemonade", "name": "Lemonade", "price": "3.50"},
        {"id": "espresso", "name": "Espresso", "price": "2.75"},
    ],
    "modifierGroups": [
        {"id": "toppings", "name": "Extra toppings", "minSelections": 0, "maxSelections": 3,
         "modifiers": [{"modifierId": "basil", "price": "1.00"},
                       {"modifierId": "olives", "price": "1.25"},
                       {"modifierId": "chili", "price": "0.50"}]},
        {"id": "dressing", "name": "Dressing", "required": True, "minSelections": 1,
         "maxSelections": 1,
         "modifiers": [{"modifierId": "vinaigrette", "preSelected": True},
                       {"modifierId": "yogurt", "price": "0.50"}]},
    ],
    "modifiers": [
        {"id": "basil", "name": "Extra basil"}, {"id": "olives", "name": "Olives"},
        {"id": "chili", "name": "Chili flakes"}, {"id": "vinaigrette", "name": "Vinaigrette"},
        {"id": "yogurt", "name": "Yogurt dressing"},
    ],
    "variants": [{"id": "small", "name": "Small (10\")"}, {"id": "large", "name": "Large (14\")"}],
}
