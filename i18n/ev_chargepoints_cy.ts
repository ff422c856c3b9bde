<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
<context>
    <name>EvChargepointsPlugin</name>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="46"/>
        <source>EV Charge Points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="48"/>
        <source>About EV Charge Points…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="99"/>
        <source>All optional packages are installed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="100"/>
        <source>About EV Charge Points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="100"/>
        <source>EV Charge Points (London) {version}

London&apos;s electric-vehicle charge points: locations, utilisation, area summaries, candidate sites and committee maps.

{status}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>EvChargepointsProvider</name>
    <message>
        <location filename="../ev_chargepoints/processing/provider.py" line="23"/>
        <source>EV charge points</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
