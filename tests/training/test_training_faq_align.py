"""Matching a translated FAQ's entries to the English ones by the text translations leave as it is."""

from training.faq_align import MIN_OVERLAP, align, literals, overlap


def test_literals_are_the_tokens_no_translation_touches():
    assert literals("Use -vo xv with MPlayer 1.0 and /dev/dvd, not the DVD menu (see the G200/G400 notes).") == {
        "-vo", "MPlayer", "1.0", "/dev/dvd", "DVD", "G200/G400"}
    assert literals("Wie kann ich einen Screenshot machen?") == frozenset()  # nothing but words of one language
    assert overlap(literals("-ao alsa and -vo xv"), literals("Nutze -vo xv oder -ao alsa")) == 1.0
    assert overlap(frozenset(), frozenset()) == 0.0


def test_the_alignment_keeps_the_order_and_leaves_added_dropped_and_wordy_entries_out():
    english = ["Play a DVD: run frob -dvd 1 with /dev/dvd", "Sound: -ao alsa or -ao oss at 44100 Hz",
               "Screenshots: press s with -vf screenshot", "Why is it slow? Try -framedrop and -lavdopts fast",
               "Who writes it? A few people in their spare time"]
    translated = ["DVD abspielen: frob -dvd 1 mit /dev/dvd",  # 0
                  "Neu: -vo xv für Overlay auf G400",  # 1, no English entry
                  "Bildschirmfotos: s drücken, mit -vf screenshot",  # 2
                  "Langsam? -framedrop und -lavdopts fast",  # 3 (the sound entry is dropped)
                  "Wer schreibt es? Ein paar Leute in ihrer Freizeit"]  # 4: no literal, so no evidence of a match
    assert align(english, translated) == [(0, 0), (2, 2), (3, 3)]
    # order is kept: of two entries swapped, only one is matched
    assert len(align(english[:3], [translated[2], translated[0]])) == 1
    assert align(english, []) == [] and align([], translated) == []


def test_a_weak_overlap_is_no_match():
    english = ["Options -a -b -c -d -e -f -g -h -i"]
    assert overlap(literals(english[0]), literals("nur -a")) < MIN_OVERLAP
    assert align(english, ["nur -a"]) == []
    assert align(english, ["-a -b -c -d -e -f -g -h -i sind alle Optionen"]) == [(0, 0)]


def test_a_name_that_every_entry_holds_is_no_evidence():
    english = [f"MPlayer and DVD, question {k}: use -opt{k}" for k in range(12)]
    translated = ["Untertitel? Ja, MPlayer kann das, siehe DVD.",  # shares only what every entry says
                  "Frage: nimm -opt7 mit MPlayer und DVD"]
    assert overlap(literals(english[3]), literals(translated[0])) > MIN_OVERLAP  # unweighted, it would match
    assert align(english, translated) == [(7, 1)]
