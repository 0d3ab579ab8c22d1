"""A small BEIR-format dataset written by the tests (corpus.jsonl, queries.jsonl, qrels/{train,test}.tsv)."""

from __future__ import annotations

import json
from pathlib import Path

TOPICS = {
    "photo": (
        "Photosynthesis in plants",
        [
            "Photosynthesis converts light energy into chemical energy stored in glucose.",
            "Chlorophyll in the chloroplasts absorbs mostly red and blue light.",
            "The light-dependent reactions split water and release oxygen as a by-product.",
            "The Calvin cycle fixes carbon dioxide into sugars using ATP and NADPH.",
            "Rubisco, the enzyme that fixes carbon, is probably the most abundant protein on Earth.",
            "C4 and CAM plants concentrate carbon dioxide to limit photorespiration in hot climates.",
            "Leaves open their stomata to take in carbon dioxide and lose water vapour in exchange.",
        ],
    ),
    "volcano": (
        "Volcanic eruptions",
        [
            "Volcanoes erupt when magma rises through the crust and reaches the surface.",
            "Explosive eruptions happen when gas-rich, viscous magma fragments into ash.",
            "Basaltic lava is runny and builds broad shield volcanoes such as Mauna Loa.",
            "Pyroclastic flows are fast avalanches of hot gas and volcanic debris.",
            "Sulphur dioxide from large eruptions can cool the global climate for a year or two.",
            "Monitoring ground deformation and earthquakes helps forecast eruptions.",
            "The 1815 eruption of Tambora caused the year without a summer in Europe.",
        ],
    ),
    "jazz": (
        "The history of jazz",
        [
            "Jazz grew out of blues and ragtime in New Orleans in the early twentieth century.",
            "Louis Armstrong made the improvised trumpet solo central to the music.",
            "The swing era brought big bands led by Duke Ellington and Count Basie to dance halls.",
            "Bebop musicians such as Charlie Parker played fast, harmonically complex lines.",
            "Miles Davis recorded Kind of Blue in 1959, a landmark of modal jazz.",
            "Free jazz in the 1960s abandoned fixed chord changes altogether.",
            "Fusion later combined jazz improvisation with rock rhythms and electric instruments.",
        ],
    ),
    "vaccine": (
        "How vaccines train immunity",
        [
            "Vaccines expose the immune system to a harmless form of an antigen.",
            "B cells then produce antibodies that recognise the pathogen's surface proteins.",
            "Memory cells allow a faster and stronger response on later exposure.",
            "mRNA vaccines deliver instructions for cells to make the antigen themselves.",
            "Adjuvants strengthen the immune response to some protein vaccines.",
            "Herd immunity protects people who cannot be vaccinated when coverage is high.",
            "Booster doses restore antibody levels that wane over time.",
        ],
    ),
    "bridge": (
        "Suspension bridge engineering",
        [
            "A suspension bridge hangs its deck from vertical cables attached to main cables.",
            "The main cables pass over tall towers and are anchored in massive concrete blocks.",
            "The Tacoma Narrows bridge collapsed in 1940 because of aeroelastic flutter.",
            "Modern decks are shaped like aerofoils and tested in wind tunnels.",
            "The Akashi Kaikyo bridge in Japan has a central span of almost two kilometres.",
            "Steel wires in the main cables are spun in place strand by strand.",
            "Dampers reduce the swaying caused by wind and by pedestrians walking in step.",
        ],
    ),
    "coffee": (
        "Coffee cultivation",
        [
            "Coffee plants grow best in tropical highlands between the Tropics of Cancer and Capricorn.",
            "Arabica beans are prized for flavour while robusta contains more caffeine.",
            "Coffee cherries are picked by hand or by machine when they turn red.",
            "Beans are processed by the washed or the natural method before drying.",
            "Roasting develops aroma through the Maillard reaction and caramelisation.",
            "Coffee leaf rust is a fungal disease that has devastated plantations.",
            "Brazil and Vietnam are the largest coffee producers in the world.",
        ],
    ),
}
QUERIES = {
    "1": ("Which enzyme fixes carbon dioxide in the Calvin cycle?", "photo"),
    "2": ("What made the Tacoma Narrows bridge collapse?", "bridge"),
    "3": ("Who recorded the modal jazz album Kind of Blue?", "jazz"),
    "4": ("How do memory cells make a second immune response faster?", "vaccine"),
    "5": ("Which eruption caused the year without a summer?", "volcano"),
    "6": ("Why do robusta beans have more caffeine than arabica?", "coffee"),
}


def write_beir(folder: Path) -> Path:
    """Write the dataset into `folder` (named like a BEIR dataset) and return it."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(
            json.dumps({"_id": doc_id, "title": title, "text": " ".join(sentences), "metadata": {}}) + "\n"
            for doc_id, (title, sentences) in TOPICS.items()
        )
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(
            json.dumps({"_id": qid, "text": text, "metadata": {}}) + "\n"
            for qid, (text, _) in QUERIES.items()
        )
    for split, ids in (("test", ["1", "2", "3", "4"]), ("train", ["5", "6"])):
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{QUERIES[q][1]}\t1" for q in ids]
        (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
