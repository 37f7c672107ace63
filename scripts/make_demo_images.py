"""Draw the demo store's product images (simple SVGs) into static/images/. Run once; output is committed."""
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "static" / "images"

COLORS = {"red": "#d9363e", "white": "#f2f2f2", "black": "#2b2b2b", "silver": "#c9ccd1", "gray": "#5b5f66",
          "blue": "#2f6fd6", "pink": "#f29cb8", "green": "#4caf7a"}

SHAPES = {
    "tshirt": '<path d="M60 40 L90 28 Q100 45 110 28 L140 40 L160 70 L138 80 L138 160 L62 160 L62 80 L40 70 Z" '
              'fill="{c}" stroke="#555" stroke-width="3"/>',
    "laptop": '<rect x="50" y="45" width="100" height="70" rx="6" fill="{c}" stroke="#555" stroke-width="3"/>'
              '<rect x="58" y="53" width="84" height="54" fill="#223"/>'
              '<path d="M35 120 L165 120 L155 140 L45 140 Z" fill="{c}" stroke="#555" stroke-width="3"/>',
    "bag": '<rect x="55" y="55" width="90" height="105" rx="18" fill="{c}" stroke="#555" stroke-width="3"/>'
           '<path d="M75 55 Q100 20 125 55" fill="none" stroke="#555" stroke-width="6"/>'
           '<rect x="72" y="105" width="56" height="35" rx="6" fill="none" stroke="#555" stroke-width="3"/>',
    "cup": '<rect x="70" y="40" width="60" height="120" rx="12" fill="{c}" stroke="#555" stroke-width="3"/>'
           '<rect x="66" y="30" width="68" height="18" rx="5" fill="#888"/>',
    "mouse": '<ellipse cx="100" cy="100" rx="40" ry="60" fill="{c}" stroke="#555" stroke-width="3"/>'
             '<line x1="100" y1="40" x2="100" y2="85" stroke="#999" stroke-width="3"/>',
}

NAMES = ["tshirt_red", "tshirt_white", "tshirt_black", "laptop_silver", "laptop_gray", "bag_red", "bag_blue",
         "bag_black", "cup_white", "cup_pink", "cup_green", "mouse_black"]


def svg(shape, color):
    body = SHAPES[shape].format(c=COLORS[color])
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">'
            f'<rect width="200" height="200" fill="#fafafa"/>{body}</svg>\n')


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        shape, color = name.split("_")
        (OUT / f"{name}.svg").write_text(svg(shape, color), encoding="utf-8")
    print(f"wrote {len(NAMES)} images to {OUT}")
