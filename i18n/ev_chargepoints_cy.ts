<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
<context>
    <name>AnalyseSitesAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="207"/>
        <source>Extra ring distances (m, comma-separated)</source>
        <translation>Pellteroedd cylchoedd ychwanegol (m, wedi'u gwahanu gan atalnodau)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="209"/>
        <source>Score weights</source>
        <translation>Pwysiadau'r sgôr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="228"/>
        <source>Analysed sites</source>
        <translation>Safleoedd a ddadansoddwyd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="230"/>
        <source>Catchment buffers</source>
        <translation>Byfferau dalgylch</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="185"/>
        <source>Analyse candidate sites</source>
        <translation>Dadansoddi safleoedd posibl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="221"/>
        <source>Street network for walking catchments (lines)</source>
        <translation>Rhwydwaith strydoedd ar gyfer dalgylchoedd cerdded (llinellau)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="224"/>
        <source>Walk distance (m; 400 m is 5 minutes at 4.8 km/h)</source>
        <translation>Pellter cerdded (m; mae 400 m yn 5 munud ar 4.8 km/awr)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="233"/>
        <source>Walking catchments</source>
        <translation>Dalgylchoedd cerdded</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="186"/>
        <source>For each candidate site: existing devices and connectors within the catchment distance (straight line), by power class and operator; their usage in the latest period; the nearest existing device; residents within reach (ward populations spread over a 100 m grid), those an existing device already reaches and those the site would newly cover; a weighted score (0-100) and rank. Extra ring distances add the same figures with a suffix such as _800m. Weights are CRITERION=WEIGHT pairs among new_coverage, unique_coverage, residents, demand, kwh and gap (default new_coverage=0.6,demand=0.2,gap=0.2). Output fields clashing with an input field are named ev_FIELD. With a street network line layer, devices_within_walk and residents_within_walk count what lies within the walk distance on foot along the streets (the straight legs to and from the network included), and the walking catchments can be written as polygons. A demand-gap weight above 0 (or demand_gap among the weights) adds demand_gap_within: the public connectors still needed (needed − now, wards with more than they need counting 0) in the wards the catchment reaches, spread over each ward like its residents, under the demand scenario chosen among the advanced parameters.</source>
        <translation>Ar gyfer pob safle posibl: y dyfeisiau a'r cysylltwyr presennol o fewn pellter y dalgylch (llinell syth), fesul dosbarth pŵer a gweithredwr; eu defnydd yn y cyfnod diweddaraf; y ddyfais bresennol agosaf; y trigolion o fewn cyrraedd (poblogaethau wardiau wedi'u taenu dros grid 100 m), y rhai y mae dyfais bresennol eisoes yn eu cyrraedd a'r rhai y byddai'r safle'n eu cwmpasu o'r newydd; sgôr wedi'i phwysoli (0-100) a rheng. Mae pellteroedd cylchoedd ychwanegol yn ychwanegu'r un ffigurau gydag ôl-ddodiad fel _800m. Parau CRITERION=WEIGHT yw'r pwysiadau, ymhlith new_coverage, unique_coverage, residents, demand, kwh a gap (rhagosodiad new_coverage=0.6,demand=0.2,gap=0.2). Caiff meysydd allbwn sy'n gwrthdaro â maes mewnbwn eu henwi'n ev_FIELD. Gyda haen linellau rhwydwaith strydoedd, mae devices_within_walk a residents_within_walk yn cyfrif yr hyn sydd o fewn y pellter cerdded ar droed ar hyd y strydoedd (gan gynnwys y darnau syth i'r rhwydwaith ac ohono), a gellir ysgrifennu'r dalgylchoedd cerdded fel polygonau. Mae pwysiad bwlch galw uwchlaw 0 (neu demand_gap ymhlith y pwysiadau) yn ychwanegu demand_gap_within: y cysylltwyr cyhoeddus sydd eu hangen o hyd (angen − nawr, gyda wardiau sydd â mwy nag sydd ei angen arnynt yn cyfrif fel 0) yn y wardiau y mae'r dalgylch yn eu cyrraedd, wedi'u taenu dros bob ward fel ei thrigolion, o dan y senario galw a ddewiswyd ymhlith y paramedrau uwch.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="212"/>
        <source>Weight of the demand gap (demand_gap; 0: not scored)</source>
        <translation>Pwysiad y bwlch galw (demand_gap; 0: dim sgôr)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="216"/>
        <source>Demand scenario of the demand gap</source>
        <translation>Senario galw ar gyfer y bwlch galw</translation>
    </message>
</context>
<context>
    <name>AreaSummaryDock</name>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="84"/>
        <source>Area summary</source>
        <translation>Crynodeb ardaloedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="134"/>
        <source>◂ Boroughs</source>
        <translation>◂ Bwrdeistrefi</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="135"/>
        <source>Back to the boroughs</source>
        <translation>Yn ôl i'r bwrdeistrefi</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="499"/>
        <source>Boroughs</source>
        <translation>Bwrdeistrefi</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="143"/>
        <source>Wards ▸</source>
        <translation>Wardiau ▸</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="144"/>
        <source>Show the wards of the selected borough (or double-click a borough)</source>
        <translation>Dangos wardiau'r fwrdeistref a ddewiswyd (neu cliciwch ddwywaith ar fwrdeistref)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="149"/>
        <source>Refresh</source>
        <translation>Adnewyddu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="150"/>
        <source>Read the workspace store again</source>
        <translation>Darllen storfa'r gweithle eto</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="160"/>
        <source>Months</source>
        <translation>Misoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="160"/>
        <source>Quarters</source>
        <translation>Chwarteri</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="160"/>
        <source>Years</source>
        <translation>Blynyddoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="164"/>
        <source>Length of the usage periods</source>
        <translation>Hyd y cyfnodau defnydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="167"/>
        <source>Usage period shown (UK time)</source>
        <translation>Y cyfnod defnydd a ddangosir (amser y DU)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="171"/>
        <source>All operators</source>
        <translation>Pob gweithredwr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="173"/>
        <source>All power classes</source>
        <translation>Pob dosbarth pŵer</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="175"/>
        <source>All location types</source>
        <translation>Pob math o leoliad</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="180"/>
        <source>Period</source>
        <translation>Cyfnod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="183"/>
        <source>Operator</source>
        <translation>Gweithredwr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="185"/>
        <source>Power class</source>
        <translation>Dosbarth pŵer</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="187"/>
        <source>Location type</source>
        <translation>Math o leoliad</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="222"/>
        <source>CSV…</source>
        <translation>CSV…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="223"/>
        <source>Export the table to CSV</source>
        <translation>Allforio'r tabl i CSV</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="230"/>
        <source>Not for publication</source>
        <translation>Nid i'w gyhoeddi</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="231"/>
        <source>Exports suppress the usage figures of areas with fewer devices than the disclosure threshold or a single operator (and a partner area where a published total would reveal one). Tick to keep every figure for internal use: the files then say &quot;INTERNAL – not for publication&quot;. The table here always shows your data in full.</source>
        <translation>Mae allforion yn atal ffigurau defnydd ardaloedd sydd â llai o ddyfeisiau na'r trothwy datgelu neu un gweithredwr yn unig (ac ardal bartner lle byddai cyfanswm cyhoeddedig yn datgelu un). Ticiwch i gadw pob ffigur at ddefnydd mewnol: bydd y ffeiliau wedyn yn dweud &quot;INTERNAL – not for publication&quot;. Mae'r tabl yma bob amser yn dangos eich data yn llawn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="99"/>
        <source>disclosure</source>
        <translation>datgelu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="226"/>
        <source>XLSX…</source>
        <translation>XLSX…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="227"/>
        <source>Export the table to an Excel workbook, with the definitions of every column</source>
        <translation>Allforio'r tabl i lyfr gwaith Excel, gyda diffiniadau pob colofn</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="264"/>
        <source>Load London charge points (or choose a store) to see area summaries.</source>
        <translation>Llwythwch bwyntiau gwefru Llundain (neu dewiswch storfa) i weld crynodebau ardaloedd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="327"/>
        <source>Preparing the summaries…</source>
        <translation>Wrthi'n paratoi'r crynodebau…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="328"/>
        <source>Preparing area summaries</source>
        <translation>Paratoi crynodebau ardaloedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="372"/>
        <source>slow (3–7 kW)</source>
        <translation>araf (3–7 kW)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="372"/>
        <source>fast (8–49 kW)</source>
        <translation>cyflym (8–49 kW)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="373"/>
        <source>rapid (50–149 kW)</source>
        <translation>cyflym iawn (50–149 kW)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="373"/>
        <source>ultra (150 kW+)</source>
        <translation>uwch-gyflym (150 kW+)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="381"/>
        <source>unknown</source>
        <translation>anhysbys</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="383"/>
        <source>{n} devices</source>
        <translation>{n} o ddyfeisiau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="393"/>
        <source>no usage data</source>
        <translation>dim data defnydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="434"/>
        <source>Summarising…</source>
        <translation>Wrthi'n crynhoi…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="441"/>
        <source>Summarising areas</source>
        <translation>Crynhoi ardaloedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="496"/>
        <source>Wards of {borough}</source>
        <translation>Wardiau {borough}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="509"/>
        <source>{placed} devices in the {n} wards of {borough}</source>
        <translation>{placed} o ddyfeisiau yn {n} o wardiau {borough}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="512"/>
        <source>{placed} of {total} devices in London&apos;s boroughs</source>
        <translation>{placed} o'r {total} o ddyfeisiau ym mwrdeistrefi Llundain</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="515"/>
        <source>(filtered)</source>
        <translation>(wedi hidlo)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="519"/>
        <source>usage figures are SYNTHETIC</source>
        <translation>mae'r ffigurau defnydd yn SYNTHETIG</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="559"/>
        <source>No usage data to chart</source>
        <translation>Dim data defnydd i'w ddangos mewn siart</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="566"/>
        <source>{n} selected areas</source>
        <translation>{n} o ardaloedd a ddewiswyd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="568"/>
        <source>All wards of {borough}</source>
        <translation>Holl wardiau {borough}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="570"/>
        <source>All boroughs</source>
        <translation>Pob bwrdeistref</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="68"/>
        <source>borough or ward</source>
        <translation>bwrdeistref neu ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="68"/>
        <source>Operators the figures are limited to (empty: all).</source>
        <translation>Y gweithredwyr y cyfyngir y ffigurau iddynt (gwag: pob un).</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="68"/>
        <source>Power classes the figures are limited to (empty: all).</source>
        <translation>Y dosbarthiadau pŵer y cyfyngir y ffigurau iddynt (gwag: pob un).</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="68"/>
        <source>Location types the figures are limited to (empty: all).</source>
        <translation>Y mathau o leoliad y cyfyngir y ffigurau iddynt (gwag: pob un).</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="82"/>
        <source>level</source>
        <translation>lefel</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="83"/>
        <source>borough</source>
        <translation>bwrdeistref</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="84"/>
        <source>period</source>
        <translation>cyfnod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="85"/>
        <source>previous period</source>
        <translation>cyfnod blaenorol</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="87"/>
        <source>boundaries</source>
        <translation>ffiniau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="89"/>
        <source>population</source>
        <translation>poblogaeth</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="92"/>
        <source>filter {key}</source>
        <translation>hidlydd {key}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="95"/>
        <source>store</source>
        <translation>storfa</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="97"/>
        <source>usage</source>
        <translation>defnydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="97"/>
        <source>SYNTHETIC usage figures</source>
        <translation>Ffigurau defnydd SYNTHETIG</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="103"/>
        <source>assignment</source>
        <translation>dyraniad</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="105"/>
        <source>Summary</source>
        <translation>Crynodeb</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="105"/>
        <source>Definitions</source>
        <translation>Diffiniadau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="105"/>
        <source>About</source>
        <translation>Ynghylch</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="114"/>
        <source>Export the summary to CSV</source>
        <translation>Allforio'r crynodeb i CSV</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="114"/>
        <source>CSV files (*.csv)</source>
        <translation>Ffeiliau CSV (*.csv)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="132"/>
        <source>Written to {path}</source>
        <translation>Wedi'i ysgrifennu i {path}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="124"/>
        <source>Export the summary to Excel</source>
        <translation>Allforio'r crynodeb i Excel</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/export.py" line="124"/>
        <source>Excel workbooks (*.xlsx)</source>
        <translation>Llyfrau gwaith Excel (*.xlsx)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="244"/>
        <source>Areas</source>
        <translation>Ardaloedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/dock.py" line="246"/>
        <source>Demand</source>
        <translation>Galw</translation>
    </message>
</context>
<context>
    <name>CandidateSitesDock</name>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="81"/>
        <source>Candidate sites</source>
        <translation>Safleoedd posibl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="340"/>
        <source>There is no store at {path}; load London charge points first.</source>
        <translation>Does dim storfa yn {path}; llwythwch bwyntiau gwefru Llundain yn gyntaf.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="362"/>
        <source>Preparing the candidate-site analysis (devices, usage, population)…</source>
        <translation>Wrthi'n paratoi'r dadansoddiad o safleoedd posibl (dyfeisiau, defnydd, poblogaeth)…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="365"/>
        <source>Preparing candidate-site analysis</source>
        <translation>Paratoi dadansoddiad o safleoedd posibl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="386"/>
        <source>Ready ({s:.1f} s). {n} sites analysed.</source>
        <translation>Yn barod ({s:.1f} s). Dadansoddwyd {n} o safleoedd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="455"/>
        <source>{n} sites; updated in {ms:.0f} ms.</source>
        <translation>{n} o safleoedd; diweddarwyd mewn {ms:.0f} ms.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="503"/>
        <source>Give at least one weight above 0.</source>
        <translation>Rhowch o leiaf un pwysiad uwchlaw 0.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_results.py" line="144"/>
        <source>Candidate site catchments</source>
        <translation>Dalgylchoedd safleoedd posibl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_results.py" line="245"/>
        <source>score {low:g}–{high:g}</source>
        <translation>sgôr {low:g}–{high:g}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="554"/>
        <source>The sites layer has no sites to choose from.</source>
        <translation>Nid oes gan yr haen safleoedd unrhyw safleoedd i ddewis ohonynt.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="567"/>
        <source>Suggesting candidate sites</source>
        <translation>Awgrymu safleoedd posibl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="571"/>
        <source>Choosing {k} sites…</source>
        <translation>Wrthi'n dewis {k} o safleoedd…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="586"/>
        <source>{n} of {k} sites picked; gains are listed below and the picks selected on the layer.</source>
        <translation>Dewiswyd {n} o'r {k} safle; mae'r enillion wedi'u rhestru isod a'r dewisiadau wedi'u dethol ar yr haen.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="589"/>
        <source>No other site covers anyone new.</source>
        <translation>Nid oes unrhyw safle arall yn cwmpasu neb newydd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="601"/>
        <source>There are no results to export yet.</source>
        <translation>Nid oes canlyniadau i'w hallforio eto.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="604"/>
        <source>GeoPackage (*.gpkg)</source>
        <translation>GeoPackage (*.gpkg)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="605"/>
        <source>CSV (*.csv)</source>
        <translation>CSV (*.csv)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="606"/>
        <source>Export candidate sites</source>
        <translation>Allforio safleoedd posibl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="613"/>
        <source>Exported {n} sites to {path}.</source>
        <translation>Allforiwyd {n} o safleoedd i {path}.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="131"/>
        <source>EV Charge Points</source>
        <translation>Pwyntiau Gwefru Cerbydau Trydan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="163"/>
        <source> min</source>
        <translation> mun</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_results.py" line="177"/>
        <source>Walking catchments</source>
        <translation>Dalgylchoedd cerdded</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_results.py" line="194"/>
        <source>Walking catchments of the candidate sites: what lies within {walk} m on foot along the streets of {network}, straight legs to and from the network included. Coloured by the site&apos;s score (straight-line criteria).</source>
        <translation>Dalgylchoedd cerdded y safleoedd posibl: yr hyn sydd o fewn {walk} m ar droed ar hyd strydoedd {network}, gan gynnwys y darnau syth i'r rhwydwaith ac ohono. Wedi'u lliwio yn ôl sgôr y safle (meini prawf llinell syth).</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_dock.py" line="464"/>
        <source>{n} with no street of the network within {walk:g} m: their walking figures are blank (see note).</source>
        <translation>{n} heb stryd o&apos;r rhwydwaith o fewn {walk:g} m: mae eu ffigurau cerdded yn wag (gweler y nodyn).</translation>
    </message>
</context>
<context>
    <name>ConformanceDialog</name>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="87"/>
        <source>Check operators&apos; data</source>
        <translation>Gwirio data gweithredwyr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="101"/>
        <source>Data files (*.csv *.json *.gz);;All files (*)</source>
        <translation>Ffeiliau data (*.csv *.json *.gz);;Pob ffeil (*)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="110"/>
        <source>Files to check</source>
        <translation>Ffeiliau i'w gwirio</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="107"/>
        <source>Usage returns, device reference data, NCR exports or OCPI Locations JSON (optionally gzip-compressed); each is checked and reported.</source>
        <translation>Ffurflenni defnydd, data cyfeirio dyfeisiau, allforion NCR neu JSON Locations OCPI (wedi'u cywasgu â gzip os dymunir); caiff pob un ei gwirio a'i hadrodd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="115"/>
        <source>Device reference data</source>
        <translation>Data cyfeirio dyfeisiau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="116"/>
        <source>Optional: device reference data, NCR exports or OCPI Locations used only to look up the devices of the usage returns; not reported on.</source>
        <translation>Dewisol: data cyfeirio dyfeisiau, allforion NCR neu Locations OCPI a ddefnyddir dim ond i chwilio am ddyfeisiau'r ffurflenni defnydd; ni chaiff adroddiad ei wneud arnynt.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="119"/>
        <source>Device reference data (optional)</source>
        <translation>Data cyfeirio dyfeisiau (dewisol)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="122"/>
        <source>e.g. 2024-Q1; empty = inferred</source>
        <translation>e.e. 2024-Q1; gwag = caiff ei gasglu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="123"/>
        <source>Return period (optional)</source>
        <translation>Cyfnod y ffurflen (dewisol)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="129"/>
        <source> days</source>
        <translation> diwrnod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="130"/>
        <source>Data older than this is stale</source>
        <translation>Mae data sy'n hŷn na hyn wedi dyddio</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="143"/>
        <source>Report folder</source>
        <translation>Ffolder yr adroddiad</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="146"/>
        <source>Check</source>
        <translation>Gwirio</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="166"/>
        <source>Operator</source>
        <translation>Gweithredwr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="166"/>
        <source>Verdict</source>
        <translation>Dyfarniad</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="166"/>
        <source>Main reasons</source>
        <translation>Prif resymau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="180"/>
        <source>Open report</source>
        <translation>Agor yr adroddiad</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="182"/>
        <source>Open report.html (every check, with rows and examples) in the browser.</source>
        <translation>Agor report.html (pob gwiriad, gyda rhesi ac enghreifftiau) yn y porwr.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="228"/>
        <source>Choose at least one file to check.</source>
        <translation>Dewiswch o leiaf un ffeil i'w gwirio.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="236"/>
        <source>&apos;{period}&apos; is not a period: use 2024-Q1 or 2024-01-01/2024-04-01.</source>
        <translation>Nid yw '{period}' yn gyfnod: defnyddiwch 2024-Q1 neu 2024-01-01/2024-04-01.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="242"/>
        <source>Choose a report folder.</source>
        <translation>Dewiswch ffolder ar gyfer yr adroddiad.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="266"/>
        <source>Checking {n} file(s)…</source>
        <translation>Wrthi'n gwirio {n} o ffeiliau…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="267"/>
        <source>Checking operators&apos; data against the standard</source>
        <translation>Gwirio data gweithredwyr yn erbyn y safon</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="310"/>
        <source>No operators found in the files.</source>
        <translation>Ni chanfuwyd unrhyw weithredwyr yn y ffeiliau.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="312"/>
        <source>{n} operator(s): {p} pass, {w} warn, {f} fail.</source>
        <translation>{n} o weithredwyr: {p} yn pasio, {w} â rhybudd, {f} yn methu.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="316"/>
        <source>Report: {path}</source>
        <translation>Adroddiad: {path}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="320"/>
        <source>PASS</source>
        <translation>PASIO</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="320"/>
        <source>WARN</source>
        <translation>RHYBUDD</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="321"/>
        <source>FAIL</source>
        <translation>METHU</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="339"/>
        <source>No problems found.</source>
        <translation>Ni chanfuwyd unrhyw broblemau.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="352"/>
        <source>There is no report to open yet: run a check first.</source>
        <translation>Nid oes adroddiad i'w agor eto: cynhaliwch wiriad yn gyntaf.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="355"/>
        <source>Could not open a browser; the report is at {path}</source>
        <translation>Nid oedd modd agor porwr; mae'r adroddiad yn {path}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="383"/>
        <source>Unexpected error; details are in the EV Chargepoints message log.</source>
        <translation>Gwall annisgwyl; mae'r manylion yng nghofnod negeseuon EV Chargepoints.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="131"/>
        <source>Include the store&apos;s watched status history</source>
        <translation>Cynnwys hanes statws a wyliwyd yn y storfa</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="134"/>
        <source>Reliability from the status &apos;Watch live status&apos; collected in the store of the Settings, over observed time only (each observation holds at most an hour); no files are needed then.</source>
        <translation>Dibynadwyedd o'r statws a gasglodd 'Gwylio statws byw' yn storfa'r Gosodiadau, dros amser a arsylwyd yn unig (mae pob arsylwad yn dal am awr ar y mwyaf); nid oes angen ffeiliau wedyn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="138"/>
        <source>Reliability</source>
        <translation>Dibynadwyedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="224"/>
        <source>There is no store at {path}: watch a feed first.</source>
        <translation>Does dim storfa yn {path}: gwyliwch ffrwd yn gyntaf.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/conformance_dialog.py" line="342"/>
        <source>Reliability: {figure}</source>
        <translation>Dibynadwyedd: {figure}</translation>
    </message>
</context>
<context>
    <name>DemandMapMixin</name>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_map.py" line="80"/>
        <source>Demand gap per ward ({scenario})</source>
        <translation>Bwlch galw fesul ward ({scenario})</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_map.py" line="95"/>
        <source>No demand figures yet.</source>
        <translation>Dim ffigurau galw eto.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_map.py" line="150"/>
        <source>The gap layer could not be updated.</source>
        <translation>Nid oedd modd diweddaru haen y bwlch.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_map.py" line="257"/>
        <source>Load London charge points (or choose a store) to see the demand per ward.</source>
        <translation>Llwythwch bwyntiau gwefru Llundain (neu dewiswch storfa) i weld y galw fesul ward.</translation>
    </message>
</context>
<context>
    <name>DemandTab</name>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="182"/>
        <source>A preset or a scenario you saved; change any value below</source>
        <translation>Rhagosodiad neu senario a gadwyd gennych; newidiwch unrhyw werth isod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="186"/>
        <source>Save scenario as…</source>
        <translation>Cadw'r senario fel…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="187"/>
        <source>Name the values shown; the project keeps the scenario</source>
        <translation>Rhowch enw i'r gwerthoedd a ddangosir; mae'r prosiect yn cadw'r senario</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="195"/>
        <source>Scenario</source>
        <translation>Senario</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="212"/>
        <source>Share of cars that are electric</source>
        <translation>Cyfran y ceir sy'n drydanol</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="214"/>
        <source>Share of EVs without off-street parking, the same in every ward; at the bottom of the range: each ward&apos;s share of flats and terraced houses</source>
        <translation>Cyfran y cerbydau trydan heb le parcio oddi ar y stryd, yr un fath ym mhob ward; ar waelod yr ystod: cyfran fflatiau a thai teras pob ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="217"/>
        <source>each ward&apos;s housing mix</source>
        <translation>cymysgedd tai pob ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="218"/>
        <source>Factor on each ward&apos;s share of flats and terraced houses (capped at 100 %)</source>
        <translation>Ffactor ar gyfran fflatiau a thai teras pob ward (uchafswm o 100 %)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="220"/>
        <source> kWh</source>
        <translation> kWh</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="220"/>
        <source>Energy per EV a day</source>
        <translation>Ynni fesul cerbyd trydan y dydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="222"/>
        <source> kW</source>
        <translation> kW</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="222"/>
        <source>Rated power of a public connector</source>
        <translation>Pŵer graddedig cysylltydd cyhoeddus</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="224"/>
        <source>Target occupancy of a public connector: share of the day it charges</source>
        <translation>Defnydd targed cysylltydd cyhoeddus: y gyfran o'r dydd y mae'n gwefru</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="234"/>
        <source>Cars electric</source>
        <translation>Ceir trydan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="235"/>
        <source>No off-street parking</source>
        <translation>Dim parcio oddi ar y stryd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="236"/>
        <source>× factor</source>
        <translation>× ffactor</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="237"/>
        <source>Per EV a day</source>
        <translation>Fesul cerbyd trydan y dydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="238"/>
        <source>Connector</source>
        <translation>Cysylltydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="239"/>
        <source>Target occupancy</source>
        <translation>Defnydd targed</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="284"/>
        <source>Show on map</source>
        <translation>Dangos ar y map</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="285"/>
        <source>Add a ward layer styled by gap; it follows the scenario</source>
        <translation>Ychwanegu haen wardiau wedi'i harddullio yn ôl y bwlch; mae'n dilyn y senario</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="390"/>
        <source>A scenario needs a name.</source>
        <translation>Mae angen enw ar senario.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="392"/>
        <source>&apos;{name}&apos; is a preset; choose another name.</source>
        <translation>Rhagosodiad yw '{name}'; dewiswch enw arall.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="440"/>
        <source>Save scenario as</source>
        <translation>Cadw'r senario fel</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="440"/>
        <source>Name of the scenario</source>
        <translation>Enw'r senario</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="480"/>
        <source>Load London charge points (or choose a store) to see the demand per ward.</source>
        <translation>Llwythwch bwyntiau gwefru Llundain (neu dewiswch storfa) i weld y galw fesul ward.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="493"/>
        <source>Reading the wards' figures…</source>
        <translation>Wrthi'n darllen ffigurau'r wardiau…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="494"/>
        <source>Preparing the demand per ward</source>
        <translation>Paratoi'r galw fesul ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="537"/>
        <source>Cancelled.</source>
        <translation>Wedi'i ganslo.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="572"/>
        <source>{n} wards without ward-profile figures: left blank</source>
        <translation>{n} o wardiau heb ffigurau proffil ward: wedi'u gadael yn wag</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="578"/>
        <source>London: {needed} connectors needed, {now} now, gap {gap} ({short} of {n} wards short)</source>
        <translation>Llundain: {needed} cysylltydd sydd eu hangen, {now} nawr, bwlch {gap} ({short} o'r {n} o wardiau yn brin)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="191"/>
        <source>Delete</source>
        <translation>Dileu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="192"/>
        <source>Delete the saved scenario chosen (presets stay)</source>
        <translation>Dileu'r senario a gadwyd sydd wedi'i ddewis (mae'r rhagosodiadau'n aros)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="406"/>
        <source>&apos;{name}&apos; is a preset; only saved scenarios can be deleted.</source>
        <translation>Rhagosodiad yw '{name}'; dim ond senarios a gadwyd y gellir eu dileu.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="409"/>
        <source>There is no saved scenario &apos;{name}&apos;.</source>
        <translation>Nid oes senario a gadwyd o'r enw '{name}'.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="453"/>
        <source>Only saved scenarios can be deleted; presets stay.</source>
        <translation>Dim ond senarios a gadwyd y gellir eu dileu; mae'r rhagosodiadau'n aros.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="455"/>
        <source>Delete scenario</source>
        <translation>Dileu senario</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="455"/>
        <source>Delete the saved scenario &apos;{name}&apos; from this project?</source>
        <translation>Dileu'r senario a gadwyd '{name}' o'r prosiect hwn?</translation>
    </message>
</context>
<context>
    <name>DemandTableModel</name>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="107"/>
        <source>Ward</source>
        <translation>Ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="107"/>
        <source>Code</source>
        <translation>Cod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="108"/>
        <source>Cars</source>
        <translation>Ceir</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="108"/>
        <source>EVs</source>
        <translation>Cerbydau trydan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="109"/>
        <source>EVs on public charging</source>
        <translation>Cerbydau trydan ar wefru cyhoeddus</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="110"/>
        <source>Needed</source>
        <translation>Angen</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="110"/>
        <source>Now</source>
        <translation>Nawr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="111"/>
        <source>Gap</source>
        <translation>Bwlch</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="127"/>
        <source>household spaces (2011) × cars per household (2011)</source>
        <translation>lleoedd aelwydydd (2011) × ceir fesul aelwyd (2011)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="128"/>
        <source>cars × share of cars that are electric</source>
        <translation>ceir × cyfran y ceir sy'n drydanol</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="129"/>
        <source>EVs × share without off-street parking (EVs relying on public charging)</source>
        <translation>cerbydau trydan × cyfran heb le parcio oddi ar y stryd (cerbydau trydan sy'n dibynnu ar wefru cyhoeddus)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="131"/>
        <source>EVs on public charging × kWh per EV a day ÷ what one connector delivers a day, rounded up</source>
        <translation>cerbydau trydan ar wefru cyhoeddus × kWh fesul cerbyd trydan y dydd ÷ yr hyn y mae un cysylltydd yn ei gyflenwi y dydd, wedi'i dalgrynnu i fyny</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="133"/>
        <source>connectors of the store&apos;s reconciled devices in the ward</source>
        <translation>cysylltwyr y dyfeisiau wedi'u cysoni yn y storfa sydd yn y ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/demand_tab.py" line="135"/>
        <source>needed − now (negative: more than the scenario needs)</source>
        <translation>angen − nawr (negyddol: mwy nag sydd ei angen ar y senario)</translation>
    </message>
</context>
<context>
    <name>EvAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/base.py" line="28"/>
        <source>Data</source>
        <translation>Data</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="43"/>
        <source>Workspace store (GeoPackage)</source>
        <translation>Storfa'r gweithle (GeoPackage)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="47"/>
        <source>Leave empty to use the store set in the plugin settings.</source>
        <translation>Gadewch yn wag i ddefnyddio'r storfa a osodwyd yng ngosodiadau'r ategyn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="53"/>
        <source>The candidate sites layer could not be read.</source>
        <translation>Nid oedd modd darllen haen y safleoedd posibl.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="74"/>
        <source>The candidate sites layer has no features.</source>
        <translation>Nid oes nodweddion yn haen y safleoedd posibl.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="80"/>
        <source>Candidate sites: {error}</source>
        <translation>Safleoedd posibl: {error}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="111"/>
        <source>Extra rings: {value} is not a number of metres.</source>
        <translation>Cylchoedd ychwanegol: nid yw {value} yn nifer o fetrau.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="115"/>
        <source>Extra rings: {value} must be positive.</source>
        <translation>Cylchoedd ychwanegol: rhaid i {value} fod yn bositif.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="56"/>
        <source>Shared store (saved PostgreSQL connection)</source>
        <translation>Storfa a rennir (cysylltiad PostgreSQL a gadwyd)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="60"/>
        <source>A PostgreSQL connection saved in QGIS whose database holds the shared store; used instead of the GeoPackage when chosen. The password comes from the connection&apos;s authentication configuration.</source>
        <translation>Cysylltiad PostgreSQL a gadwyd yn QGIS y mae ei gronfa ddata'n dal y storfa a rennir; caiff ei ddefnyddio yn lle'r GeoPackage pan gaiff ei ddewis. Daw'r cyfrinair o ffurfweddiad dilysu'r cysylltiad.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="302"/>
        <source>Hours one status observation may hold at most</source>
        <translation>Uchafswm yr oriau y gall un arsylwad statws ddal</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="97"/>
        <source>The street network layer has no lines.</source>
        <translation>Nid oes llinellau yn haen y rhwydwaith strydoedd.</translation>
    </message>
</context>
<context>
    <name>EvChargepointsPlugin</name>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="58"/>
        <source>EV Charge Points</source>
        <translation>Pwyntiau Gwefru Cerbydau Trydan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="109"/>
        <source>About EV Charge Points…</source>
        <translation>Ynghylch Pwyntiau Gwefru Cerbydau Trydan…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="481"/>
        <source>All optional packages are installed.</source>
        <translation>Mae'r holl becynnau dewisol wedi'u gosod.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="483"/>
        <source>About EV Charge Points</source>
        <translation>Ynghylch Pwyntiau Gwefru Cerbydau Trydan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="483"/>
        <source>EV Charge Points (London) {version}

London&apos;s electric-vehicle charge points: locations, utilisation, area summaries, candidate sites and committee maps.

{status}</source>
        <translation>Pwyntiau Gwefru Cerbydau Trydan (Llundain) {version}

Pwyntiau gwefru cerbydau trydan Llundain: lleoliadau, defnydd, crynodebau ardaloedd, safleoedd posibl a mapiau pwyllgor.

{status}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="80"/>
        <source>Load London charge points</source>
        <translation>Llwytho pwyntiau gwefru Llundain</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="88"/>
        <source>Load demo usage (synthetic)</source>
        <translation>Llwytho defnydd enghreifftiol (synthetig)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="90"/>
        <source>Fetch from the London Datastore</source>
        <translation>Nôl o'r London Datastore</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="93"/>
        <source>Fetches the datasets set in Settings (charge points, usage returns, boundaries) with the API key set there into the workspace store, in the background</source>
        <translation>Yn nôl y setiau data a osodwyd yn y Gosodiadau (mannau gwefru, ffurflenni defnydd, ffiniau) gyda'r allwedd API a osodwyd yno i storfa'r gweithle, yn y cefndir</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="361"/>
        <source>No London Datastore datasets are set: add them in the plugin settings.</source>
        <translation>Nid oes setiau data London Datastore wedi'u gosod: ychwanegwch nhw yng ngosodiadau'r ategyn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="390"/>
        <source>Fetched {n} dataset(s) from the London Datastore: {rows:,} rows added.</source>
        <translation>Wedi nôl {n} set(iau) data o'r London Datastore: ychwanegwyd {rows:,} rhes.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="400"/>
        <source>Fetching from the London Datastore</source>
        <translation>Yn nôl o'r London Datastore</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="402"/>
        <source>Fetching {ids} from the London Datastore in the background…</source>
        <translation>Yn nôl {ids} o'r London Datastore yn y cefndir…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="84"/>
        <source>Period shown on the map (restyles, no reload)</source>
        <translation>Y cyfnod a ddangosir ar y map (newid arddull yn unig, heb ail-lwytho)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="96"/>
        <source>Area summary…</source>
        <translation>Crynodeb ardaloedd…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="98"/>
        <source>Candidate sites…</source>
        <translation>Safleoedd posibl…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="100"/>
        <source>Export committee maps…</source>
        <translation>Allforio mapiau pwyllgor…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="104"/>
        <source>Watch live status</source>
        <translation>Gwylio statws byw</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="290"/>
        <source>Loading London charge points in the background (see the task manager)…</source>
        <translation>Wrthi'n llwytho pwyntiau gwefru Llundain yn y cefndir (gweler y rheolwr tasgau)…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="308"/>
        <source> Usage figures are SYNTHETIC.</source>
        <translation> Mae'r ffigurau defnydd yn SYNTHETIG.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="312"/>
        <source>Loaded {n:,} charge points ({period}).</source>
        <translation>Llwythwyd {n:,} o bwyntiau gwefru ({period}).</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="419"/>
        <source>No OCPI feeds are configured: add them in the plugin settings.</source>
        <translation>Nid oes ffrydiau OCPI wedi'u ffurfweddu: ychwanegwch nhw yng ngosodiadau'r ategyn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="443"/>
        <source>Watching live status of {n} feed(s); uncheck the action to stop.</source>
        <translation>Wrthi'n gwylio statws byw {n} o ffrydiau; dad-diciwch y weithred i stopio.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="102"/>
        <source>Check operators' data…</source>
        <translation>Gwirio data gweithredwyr…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="107"/>
        <source>Settings…</source>
        <translation>Gosodiadau…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="310"/>
        <source> Live status of {n:,} devices ({stale:,} stale).</source>
        <translation> Statws byw {n:,} o ddyfeisiau ({stale:,} wedi dyddio).</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="215"/>
        <source>Install missing packages…</source>
        <translation>Gosod pecynnau coll…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/plugin.py" line="242"/>
        <source>Installed {packages}. Restart QGIS so that every feature of the plugin uses them.</source>
        <translation>Wedi gosod {packages}. Ailgychwynnwch QGIS fel bod pob un o nodweddion yr ategyn yn eu defnyddio.</translation>
    </message>
</context>
<context>
    <name>EvChargepointsProvider</name>
    <message>
        <location filename="../ev_chargepoints/processing/provider.py" line="23"/>
        <source>EV charge points</source>
        <translation>Pwyntiau gwefru cerbydau trydan</translation>
    </message>
</context>
<context>
    <name>ExportCommitteeMapAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="49"/>
        <source>Boroughs (empty = London page, &apos;all&apos; = every borough)</source>
        <translation>Bwrdeistrefi (gwag = tudalen Llundain, 'all' = pob bwrdeistref)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="52"/>
        <source>All borough pages in one PDF</source>
        <translation>Pob tudalen bwrdeistref mewn un PDF</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="54"/>
        <source>Also write PNG images (300 dpi)</source>
        <translation>Ysgrifennu delweddau PNG hefyd (300 dpi)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="56"/>
        <source>Quarter, e.g. 2022-Q2 (empty = latest with substantial usage)</source>
        <translation>Chwarter, e.e. 2022-Q2 (gwag = yr un diweddaraf gyda defnydd sylweddol)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="59"/>
        <source>Suppress usage of areas with fewer devices than</source>
        <translation>Atal defnydd ardaloedd sydd â llai o ddyfeisiau na</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="62"/>
        <source>Orientation</source>
        <translation>Cyfeiriadedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="71"/>
        <source>Output folder</source>
        <translation>Ffolder allbwn</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="73"/>
        <source>Files written</source>
        <translation>Ffeiliau a ysgrifennwyd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="74"/>
        <source>Input fingerprint</source>
        <translation>Ôl bys y mewnbynnau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="26"/>
        <source>Export committee map</source>
        <translation>Allforio map pwyllgor</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="27"/>
        <source>Export</source>
        <translation>Allforio</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="62"/>
        <source>portrait</source>
        <translation>portread</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="62"/>
        <source>landscape</source>
        <translation>tirlun</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="103"/>
        <source>Usage figures suppressed for: {areas}</source>
        <translation>Ffigurau defnydd wedi'u hatal ar gyfer: {areas}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="65"/>
        <source>Show the latest watched live status on the maps</source>
        <translation>Dangos y statws byw diweddaraf a wyliwyd ar y mapiau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="29"/>
        <source>Exports A4 committee pages as PDF (and PNG): the London overview, chosen boroughs, or an atlas of all 33 boroughs, one PDF each or combined. Each page has the map, legend, scale bar, north arrow, an inset locating the borough, a summary table, metric definitions, data vintage, sources, attribution, date and a fingerprint of the inputs. Usage figures of areas with fewer devices than the threshold, or from a single operator, are suppressed before printing; device counts are always shown. Boroughs: leave empty for the London page, type &apos;all&apos; for every borough, or list names separated by commas. Live status (off by default) adds the latest status the store&apos;s watched OCPI feeds reported, with stale devices marked as in the plugin settings. Each borough page&apos;s notes also give the borough&apos;s demand for public connectors under the chosen demand scenario (connectors needed, now and the gap, summed over its wards).</source>
        <translation>Yn allforio tudalennau pwyllgor A4 fel PDF (a PNG): trosolwg Llundain, bwrdeistrefi dethol, neu atlas o bob un o'r 33 bwrdeistref, un PDF yr un neu wedi'u cyfuno. Ar bob tudalen mae'r map, allwedd, bar graddfa, saeth y gogledd, map mewnosod sy'n lleoli'r fwrdeistref, tabl crynodeb, diffiniadau'r mesurau, oedran y data, ffynonellau, priodoliad, dyddiad ac ôl bys o'r mewnbynnau. Caiff ffigurau defnydd ardaloedd sydd â llai o ddyfeisiau na'r trothwy, neu o un gweithredwr yn unig, eu hatal cyn argraffu; dangosir nifer y dyfeisiau bob amser. Bwrdeistrefi: gadewch yn wag ar gyfer tudalen Llundain, teipiwch 'all' ar gyfer pob bwrdeistref, neu rhestrwch enwau wedi'u gwahanu gan atalnodau. Mae statws byw (i ffwrdd yn ddiofyn) yn ychwanegu'r statws diweddaraf a adroddodd ffrydiau OCPI a wyliwyd y storfa, gyda dyfeisiau sydd wedi dyddio wedi'u marcio fel yng ngosodiadau'r ategyn. Mae nodiadau tudalen pob bwrdeistref hefyd yn rhoi galw'r fwrdeistref am gysylltwyr cyhoeddus o dan y senario galw a ddewiswyd (cysylltwyr sydd eu hangen, nawr a'r bwlch, wedi'u symio dros ei wardiau).</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/export_algorithm.py" line="68"/>
        <source>Demand scenario of the borough pages</source>
        <translation>Senario galw tudalennau'r bwrdeistrefi</translation>
    </message>
</context>
<context>
    <name>FetchDatastoreAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="203"/>
        <source>Datastore address</source>
        <translation>Cyfeiriad y Datastore</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="207"/>
        <source>Dataset ids (comma-separated)</source>
        <translation>Dynodyddion y setiau data (wedi'u gwahanu gan atalnodau)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="212"/>
        <source>Resource ids (comma-separated; empty = all)</source>
        <translation>Dynodyddion yr adnoddau (wedi'u gwahanu gan atalnodau; gwag = pob un)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="214"/>
        <source>API key (authentication configuration)</source>
        <translation>Allwedd API (ffurfweddiad dilysu)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="189"/>
        <source>Fetch from the London Datastore</source>
        <translation>Nôl o'r London Datastore</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="190"/>
        <source>Downloads London Datastore (DataPress) datasets through QGIS&apos;s network settings (proxy, SSL, authentication) and imports what it can read: registry files and extracts, usage files, and boundaries (GeoPackage, zipped Shapefile, GeoJSON), which become area layers of the store that summaries can use. Left empty, the address, the datasets (charge points, usage returns, boundaries) and the API key are those of the plugin settings; the key is only sent to the address of the settings. Everything of a dataset is downloaded before anything is imported, so a failed download leaves the store as it was. A fetch that imports nothing fails and says, file by file, why.</source>
        <translation>Yn lawrlwytho setiau data o'r London Datastore (DataPress) drwy osodiadau rhwydwaith QGIS (dirprwy, SSL, dilysu) ac yn mewnforio'r hyn y gall ei ddarllen: ffeiliau'r gofrestrfa a detholiadau ohonynt, ffeiliau defnydd, a ffiniau (GeoPackage, Shapefile mewn ZIP, GeoJSON), sy'n dod yn haenau ardal yn y storfa y gall crynodebau eu defnyddio. Os cânt eu gadael yn wag, y cyfeiriad, y setiau data (mannau gwefru, ffurflenni defnydd, ffiniau) a'r allwedd API yw rhai gosodiadau'r ategyn; dim ond i gyfeiriad y gosodiadau yr anfonir yr allwedd. Caiff popeth mewn set ddata ei lawrlwytho cyn i ddim gael ei fewnforio, felly mae lawrlwythiad a fethodd yn gadael y storfa fel yr oedd. Mae nôl nad yw'n mewnforio dim yn methu ac yn dweud pam, ffeil wrth ffeil.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="205"/>
        <source>Empty: the address in the plugin settings.</source>
        <translation>Gwag: y cyfeiriad yng ngosodiadau'r ategyn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="209"/>
        <source>Empty: the charge point, usage returns and boundaries datasets of the plugin settings.</source>
        <translation>Gwag: setiau data'r mannau gwefru, y ffurflenni defnydd a'r ffiniau yng ngosodiadau'r ategyn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="216"/>
        <source>Empty: the API key of the plugin settings, when the address is the settings&apos; one.</source>
        <translation>Gwag: allwedd API gosodiadau'r ategyn, pan mai cyfeiriad y gosodiadau yw'r cyfeiriad.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="234"/>
        <source>Datasets {ids} from {url}</source>
        <translation>Setiau data {ids} o {url}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="242"/>
        <source>Resource ids go with one dataset id.</source>
        <translation>Mae dynodyddion adnoddau'n mynd gydag un dynodydd set ddata.</translation>
    </message>
</context>
<context>
    <name>FetchOcpiAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="274"/>
        <source>Locations URL</source>
        <translation>URL Locations</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="275"/>
        <source>Token (authentication configuration)</source>
        <translation>Tocyn (ffurfweddiad dilysu)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="277"/>
        <source>Base64-encode the token (OCPI 2.2.1)</source>
        <translation>Amgodio'r tocyn yn Base64 (OCPI 2.2.1)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="279"/>
        <source>Feed name</source>
        <translation>Enw'r ffrwd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="266"/>
        <source>Fetch an OCPI 2.2.1 feed</source>
        <translation>Nôl ffrwd OCPI 2.2.1</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="267"/>
        <source>Pulls an operator&apos;s OCPI 2.2.1 Locations endpoint (all pages) and stores its devices, connectors and a status snapshot. The token comes from an authentication configuration (password field); it is never stored elsewhere.</source>
        <translation>Yn tynnu pwynt terfyn Locations OCPI 2.2.1 gweithredwr (pob tudalen) ac yn storio ei ddyfeisiau, ei gysylltwyr a chipolwg ar eu statws. Daw'r tocyn o ffurfweddiad dilysu (maes cyfrinair); nid yw byth yn cael ei storio yn unman arall.</translation>
    </message>
</context>
<context>
    <name>ImportFilesAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="152"/>
        <source>Files to import</source>
        <translation>Ffeiliau i'w mewnforio</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="154"/>
        <source>Format</source>
        <translation>Fformat</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="157"/>
        <source>Rows added</source>
        <translation>Rhesi a ychwanegwyd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="158"/>
        <source>Import report</source>
        <translation>Adroddiad mewnforio</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="141"/>
        <source>Import charge-point and usage files</source>
        <translation>Mewnforio ffeiliau pwyntiau gwefru a defnydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="142"/>
        <source>Imports National Chargepoint Registry CSV, session CSV and charge point location lists (ChargePlace Scotland layout), OCPI 2.2.1 JSON, usage-return and device reference files into the workspace store. Formats are detected from the file header. Each file is imported in its own transaction: a file that cannot be read is reported and leaves the store as it was; the same file imported twice adds nothing.</source>
        <translation>Yn mewnforio CSV y National Chargepoint Registry (y gofrestrfa genedlaethol pwyntiau gwefru), CSV sesiynau a rhestrau lleoliadau pwyntiau gwefru (cynllun ChargePlace Scotland), JSON OCPI 2.2.1, ffurflenni defnydd a ffeiliau data cyfeirio dyfeisiau i storfa'r gweithle. Caiff fformatau eu canfod o bennawd y ffeil. Caiff pob ffeil ei mewnforio yn ei thrafodiad ei hun: caiff ffeil na ellir ei darllen ei hadrodd, ac mae'n gadael y storfa fel yr oedd; nid yw mewnforio'r un ffeil ddwywaith yn ychwanegu dim.</translation>
    </message>
</context>
<context>
    <name>OptionalPackages</name>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="61"/>
        <source>importing, utilisation, summaries and site analysis</source>
        <translation>mewnforio, defnydd, crynodebau a dadansoddi safleoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="61"/>
        <source>reading boundary files other than GeoPackage, such as Shapefile or GeoJSON</source>
        <translation>darllen ffeiliau ffiniau heblaw GeoPackage, fel Shapefile neu GeoJSON</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="120"/>
        <source>{name} (needed for {use})</source>
        <translation>{name} (ei angen ar gyfer {use})</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="126"/>
        <source> or &apos;{command}&apos; on Debian/Ubuntu</source>
        <translation> neu '{command}' ar Debian/Ubuntu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="128"/>
        <source>Missing Python package(s): {listed}. Install them into the Python QGIS uses, e.g. &apos;{command}&apos; (OSGeo4W shell on Windows){debian}, then restart QGIS.</source>
        <translation>Pecyn(nau) Python ar goll: {listed}. Gosodwch nhw yn y Python y mae QGIS yn ei ddefnyddio, e.e. '{command}' (cragen OSGeo4W ar Windows){debian}, yna ailgychwynnwch QGIS.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="144"/>
        <source> Until then the features that need them are switched off.</source>
        <translation> Tan hynny mae'r nodweddion sy'n dibynnu arnynt wedi'u diffodd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="149"/>
        <source> Everything else works.</source>
        <translation> Mae popeth arall yn gweithio.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="61"/>
        <source>usage history: sessions, status and utilisation</source>
        <translation>hanes defnydd: sesiynau, statws a chyfraddau defnydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="147"/>
        <source> Until then charge points and areas load without usage.</source>
        <translation> Tan hynny mae pwyntiau gwefru ac ardaloedd yn llwytho heb ddata defnydd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="61"/>
        <source>exporting tables to Excel (XLSX)</source>
        <translation>allforio tablau i Excel (XLSX)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="283"/>
        <source>the OSGeo4W Shell (Start menu, OSGeo4W)</source>
        <translation>OSGeo4W Shell (dewislen Start, OSGeo4W)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="285"/>
        <source>Terminal (Applications, Utilities)</source>
        <translation>Terminal (Applications, Utilities)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="286"/>
        <source>a terminal</source>
        <translation>terfynell</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="289"/>
        <source>To install them by hand, run this command in {where} (it needs to reach pypi.org), then restart QGIS: {command}</source>
        <translation>I'w gosod â llaw, rhedwch y gorchymyn hwn yn {where} (mae angen iddo gyrraedd pypi.org), yna ailgychwynnwch QGIS: {command}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="301"/>
        <source>The Python interpreter of QGIS was not found beside {executable}; install the packages by hand. {hint}</source>
        <translation>Ni chafwyd hyd i Python QGIS wrth ymyl {executable}; gosodwch y pecynnau â llaw. {hint}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="374"/>
        <source>pip could not be started ({error}). {by_hand}</source>
        <translation>Nid oedd modd cychwyn pip ({error}). {by_hand}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="390"/>
        <source>Starting pip…</source>
        <translation>Yn cychwyn pip…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="396"/>
        <source>Cancelled by the user: pip was stopped.</source>
        <translation>Wedi'i ganslo gan y defnyddiwr: stopiwyd pip.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="415"/>
        <source>Installed {packages}.</source>
        <translation>Wedi gosod {packages}.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="425"/>
        <source>The Python of QGIS ({python}) has no pip. On Debian/Ubuntu install it with &apos;sudo apt install python3-pip&apos;; elsewhere reinstall QGIS with pip. {by_hand}</source>
        <translation>Nid oes pip gan Python QGIS ({python}). Ar Debian/Ubuntu gosodwch ef gyda 'sudo apt install python3-pip'; mewn mannau eraill ailosodwch QGIS gyda pip. {by_hand}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="430"/>
        <source>pip could not reach the package index (no internet connection, or a proxy or firewall blocks pypi.org). {by_hand}</source>
        <translation>Nid oedd pip yn gallu cyrraedd mynegai'r pecynnau (dim cysylltiad â'r rhyngrwyd, neu mae dirprwy neu fur gwarchod yn rhwystro pypi.org). {by_hand}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="438"/>
        <source>pip could not install {packages}: {reason} {by_hand}</source>
        <translation>Nid oedd pip yn gallu gosod {packages}: {reason} {by_hand}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/qgis/package_install.py" line="55"/>
        <source>Installing {packages} with pip</source>
        <translation>Yn gosod {packages} gyda pip</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/core/optional.py" line="61"/>
        <source>walking catchments on a street network</source>
        <translation>dalgylchoedd cerdded ar rwydwaith strydoedd</translation>
    </message>
</context>
<context>
    <name>PackageInstallDialog</name>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="51"/>
        <source>Install missing packages</source>
        <translation>Gosod pecynnau coll</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="60"/>
        <source>pip will download these Python packages from the Python Package Index (pypi.org) and install them into a folder of the plugin&apos;s own in your QGIS profile; QGIS&apos;s own Python installation is not changed:</source>
        <translation>Bydd pip yn llwytho'r pecynnau Python hyn i lawr o'r Python Package Index (pypi.org) ac yn eu gosod mewn ffolder sy'n perthyn i'r ategyn yn eich proffil QGIS; ni chaiff gosodiad Python QGIS ei hun ei newid:</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="64"/>
        <source>{requirement}: {use}</source>
        <translation>{requirement}: {use}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="71"/>
        <source>Folder: {folder}
Python: {python}
Command: {command}</source>
        <translation>Ffolder: {folder}
Python: {python}
Gorchymyn: {command}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="83"/>
        <source>pip&apos;s output appears here.</source>
        <translation>Mae allbwn pip yn ymddangos yma.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="88"/>
        <source>Install</source>
        <translation>Gosod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="91"/>
        <source>Cancel install</source>
        <translation>Canslo gosod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="119"/>
        <source>Installing with pip…</source>
        <translation>Yn gosod gyda pip…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="145"/>
        <source>Installed {packages} into {folder}. Restart QGIS so that every feature of the plugin uses them.</source>
        <translation>Wedi gosod {packages} yn {folder}. Ailgychwynnwch QGIS fel bod pob un o nodweddion yr ategyn yn eu defnyddio.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/package_dialog.py" line="156"/>
        <source>Try again</source>
        <translation>Rhoi cynnig arall arni</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="89"/>
        <source>EV Charge Points settings</source>
        <translation>Gosodiadau Pwyntiau Gwefru Cerbydau Trydan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="105"/>
        <source>London Datastore</source>
        <translation>London Datastore</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="106"/>
        <source>OCPI feeds</source>
        <translation>Ffrydiau OCPI</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="107"/>
        <source>Workspace and analysis</source>
        <translation>Gweithle a dadansoddi</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="123"/>
        <source>Datastore address</source>
        <translation>Cyfeiriad y Datastore</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="128"/>
        <source>Only for restricted datasets: an authentication configuration (Basic) whose password field holds the API key. Only its id is stored in the settings.</source>
        <translation>Ar gyfer setiau data cyfyngedig yn unig: ffurfweddiad dilysu (Basic) y mae ei faes cyfrinair yn cadw'r allwedd API. Dim ond ei ddynodydd a gaiff ei storio yn y gosodiadau.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="131"/>
        <source>API key</source>
        <translation>Allwedd API</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="134"/>
        <source>Charge points dataset id</source>
        <translation>Dynodydd set ddata'r pwyntiau gwefru</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="137"/>
        <source>Usage returns dataset id</source>
        <translation>Dynodydd set ddata'r ffurflenni defnydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="140"/>
        <source>Boundaries dataset id</source>
        <translation>Dynodydd set ddata'r ffiniau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="141"/>
        <source>Web ▸ EV Charge Points ▸ Fetch from the London Datastore fetches these datasets with the API key above, as the Processing fetch does when no dataset is named. Boundaries (GeoPackage, zipped Shapefile, GeoJSON) become area layers of the store that summaries can use.</source>
        <translation>Mae Gwe ▸ Pwyntiau Gwefru Cerbydau Trydan ▸ Nôl o'r London Datastore yn nôl y setiau data hyn gyda'r allwedd API uchod, fel y mae'r nôl yn Processing pan nad enwir set ddata. Daw ffiniau (GeoPackage, Shapefile mewn ZIP, GeoJSON) yn haenau ardal yn y storfa y gall crynodebau eu defnyddio.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="469"/>
        <source>Test connection</source>
        <translation>Profi'r cysylltiad</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="162"/>
        <source>Name</source>
        <translation>Enw</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="162"/>
        <source>URL</source>
        <translation>URL</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="162"/>
        <source>Token</source>
        <translation>Tocyn</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="162"/>
        <source>Base64</source>
        <translation>Base64</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="162"/>
        <source>Poll (s)</source>
        <translation>Holi (s)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="165"/>
        <source>The feed&apos;s OCPI 2.2.1 Locations endpoint, or its versions URL (ending in /versions) to discover it.</source>
        <translation>Pwynt terfyn Locations OCPI 2.2.1 y ffrwd, neu ei URL fersiynau (sy'n gorffen â /versions) i'w ddarganfod.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="178"/>
        <source>Add feed</source>
        <translation>Ychwanegu ffrwd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="182"/>
        <source>Remove feed</source>
        <translation>Tynnu ffrwd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="190"/>
        <source>The token of each feed is kept in the QGIS authentication database (password field of a Basic configuration); OCPI 2.2.1 servers expect it Base64-encoded, older servers raw.</source>
        <translation>Cedwir tocyn pob ffrwd yng nghronfa ddata dilysu QGIS (maes cyfrinair ffurfweddiad Basic); mae gweinyddion OCPI 2.2.1 yn ei ddisgwyl wedi'i amgodio yn Base64, a gweinyddion hŷn heb ei amgodio.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="207"/>
        <source>GeoPackage (*.gpkg)</source>
        <translation>GeoPackage (*.gpkg)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="223"/>
        <source>Workspace store</source>
        <translation>Storfa'r gweithle</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="238"/>
        <source> MB</source>
        <translation> MB</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="239"/>
        <source>Download cache size</source>
        <translation>Maint celc y lawrlwythiadau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="241"/>
        <source>Under-used below</source>
        <translation>Tanddefnydd o dan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="241"/>
        <source>Typical below</source>
        <translation>Nodweddiadol o dan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="241"/>
        <source>Busy below</source>
        <translation>Prysur o dan</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="250"/>
        <source>Utilisation bands by occupancy (plugged-in time ÷ available time). Defaults: 5 %, 15 %, 25 %; above the last break: consider more capacity.</source>
        <translation>Bandiau defnydd yn ôl cyfradd defnyddio (amser wedi'i blygio i mewn ÷ amser ar gael). Rhagosodiadau: 5 %, 15 %, 25 %; uwchlaw'r toriad olaf: ystyriwch fwy o gapasiti.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="258"/>
        <source> devices</source>
        <translation> dyfais</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="259"/>
        <source>Usage figures leave the plugin (exported tables, committee pages and their maps) only for areas that pool at least this many devices and more than one operator, because operators&apos; usage returns are commercially sensitive. Other areas&apos; figures are suppressed, with a partner area where a published total would reveal one, and committee maps draw their devices as &quot;usage not shown&quot;. Device counts are always shown. The Area summary&apos;s exports use this threshold; Processing and the command line take their own (default 3). The map and the Area summary table in QGIS show your own data in full.</source>
        <translation>Dim ond ar gyfer ardaloedd sy'n cyfuno o leiaf y nifer hwn o ddyfeisiau a mwy nag un gweithredwr y mae ffigurau defnydd yn gadael yr ategyn (tablau a allforir, tudalennau pwyllgor a'u mapiau), gan fod ffurflenni defnydd gweithredwyr yn fasnachol sensitif. Caiff ffigurau ardaloedd eraill eu hatal, ynghyd ag ardal bartner lle byddai cyfanswm cyhoeddedig yn datgelu un, ac mae mapiau pwyllgor yn dangos eu dyfeisiau fel &quot;defnydd heb ei ddangos&quot;. Dangosir nifer y dyfeisiau bob amser. Mae allforion y Crynodeb ardaloedd yn defnyddio'r trothwy hwn; mae gan Processing a'r llinell orchymyn eu trothwy eu hunain (3 yn ddiofyn). Mae'r map a thabl y Crynodeb ardaloedd yn QGIS yn dangos eich data eich hun yn llawn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="268"/>
        <source>Disclosure threshold</source>
        <translation>Trothwy datgelu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="323"/>
        <source>the Datastore API key (&apos;{id}&apos;)</source>
        <translation>allwedd API y Datastore ('{id}')</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="327"/>
        <source>the token of feed &apos;{name}&apos; (&apos;{id}&apos;)</source>
        <translation>tocyn y ffrwd '{name}' ('{id}')</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="338"/>
        <source>Authentication</source>
        <translation>Dilysu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="338"/>
        <source>These authentication configurations are no longer in the QGIS authentication database: {list}. Choose them again before saving.</source>
        <translation>Nid yw'r ffurfweddiadau dilysu hyn yng nghronfa ddata dilysu QGIS mwyach: {list}. Dewiswch nhw eto cyn cadw.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="508"/>
        <source>The Datastore address</source>
        <translation>Cyfeiriad y Datastore</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="396"/>
        <source>The workspace store must be a GeoPackage file ending in .gpkg.</source>
        <translation>Rhaid i storfa'r gweithle fod yn ffeil GeoPackage sy'n gorffen â .gpkg.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="420"/>
        <source>Settings saved.</source>
        <translation>Cadwyd y gosodiadau.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="426"/>
        <source>Not saved</source>
        <translation>Heb eu cadw</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="433"/>
        <source>The settings could not be saved; details are in the EV Chargepoints message log.</source>
        <translation>Nid oedd modd cadw'r gosodiadau; mae'r manylion yng nghofnod negeseuon EV Chargepoints.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="476"/>
        <source>New feed</source>
        <translation>Ffrwd newydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="523"/>
        <source>Testing the London Datastore connection</source>
        <translation>Profi'r cysylltiad â'r London Datastore</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="531"/>
        <source>The address of feed &apos;{name}&apos;</source>
        <translation>Cyfeiriad y ffrwd '{name}'</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="543"/>
        <source>Testing OCPI feed &apos;{name}&apos;</source>
        <translation>Profi ffrwd OCPI '{name}'</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="555"/>
        <source>Testing…</source>
        <translation>Wrthi'n profi…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="595"/>
        <source>{name}: {result}</source>
        <translation>{name}: {result}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="609"/>
        <source>Unexpected error</source>
        <translation>Gwall annisgwyl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="609"/>
        <source>Details are in the EV Chargepoints message log.</source>
        <translation>Mae'r manylion yng nghofnod negeseuon EV Chargepoints.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="224"/>
        <source>GeoPackage file</source>
        <translation>Ffeil GeoPackage</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="211"/>
        <source>PostgreSQL connection (shared store)</source>
        <translation>Cysylltiad PostgreSQL (storfa a rennir)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="228"/>
        <source>A PostgreSQL connection saved in QGIS (Data Source Manager). Only its name is kept; its password stays in its authentication configuration or in ~/.pgpass / pg_service.conf.</source>
        <translation>Cysylltiad PostgreSQL a gadwyd yn QGIS (Rheolwr Ffynonellau Data, y Data Source Manager). Dim ond ei enw a gaiff ei gadw; mae ei gyfrinair yn aros yn ei ffurfweddiad dilysu neu yn ~/.pgpass / pg_service.conf.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="232"/>
        <source>PostgreSQL connection</source>
        <translation>Cysylltiad PostgreSQL</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="331"/>
        <source>Shared store</source>
        <translation>Storfa a rennir</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="331"/>
        <source>The PostgreSQL connection &apos;{name}&apos; is no longer saved in QGIS. Choose a connection (or a GeoPackage file) before saving.</source>
        <translation>Nid yw'r cysylltiad PostgreSQL '{name}' wedi'i gadw yn QGIS mwyach. Dewiswch gysylltiad (neu ffeil GeoPackage) cyn cadw.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="391"/>
        <source>Choose the saved PostgreSQL connection of the shared store (add one in the Data Source Manager), or use a GeoPackage file.</source>
        <translation>Dewiswch y cysylltiad PostgreSQL a gadwyd ar gyfer y storfa a rennir (ychwanegwch un yn y Rheolwr Ffynonellau Data, y Data Source Manager), neu defnyddiwch ffeil GeoPackage.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="272"/>
        <source> min</source>
        <translation> mun</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="273"/>
        <source>On the map&apos;s Live status layer, a device whose feed has not reported it for longer than this shows as Stale instead of its last known status.</source>
        <translation>Ar haen Statws byw y map, dangosir dyfais nad yw ei ffrwd wedi adrodd amdani ers mwy na hyn fel Wedi dyddio yn lle ei statws hysbys diwethaf.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/settings_dialog.py" line="276"/>
        <source>Live status is stale after</source>
        <translation>Mae statws byw wedi dyddio ar ôl</translation>
    </message>
</context>
<context>
    <name>SiteMapTool</name>
    <message>
        <location filename="../ev_chargepoints/gui/site_tool.py" line="47"/>
        <source>Candidate sites</source>
        <translation>Safleoedd posibl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/site_tool.py" line="129"/>
        <source>No candidate-sites layer is chosen.</source>
        <translation>Nid oes haen safleoedd posibl wedi'i dewis.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/site_tool.py" line="131"/>
        <source>The candidate-sites layer must be a point layer.</source>
        <translation>Rhaid i'r haen safleoedd posibl fod yn haen bwyntiau.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/site_tool.py" line="160"/>
        <source>The layer refused the new site.</source>
        <translation>Gwrthododd yr haen y safle newydd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/site_tool.py" line="156"/>
        <source>The layer cannot take new features; start editing it or choose another layer.</source>
        <translation>Ni all yr haen dderbyn nodweddion newydd; dechreuwch ei golygu neu dewiswch haen arall.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/site_tool.py" line="180"/>
        <source>The layer refused to move the site.</source>
        <translation>Gwrthododd yr haen symud y safle.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/site_tool.py" line="177"/>
        <source>The layer cannot move features; start editing it or choose another layer.</source>
        <translation>Ni all yr haen symud nodweddion; dechreuwch ei golygu neu dewiswch haen arall.</translation>
    </message>
</context>
<context>
    <name>SitesDockForm</name>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="44"/>
        <source>Candidate sites: any point layer (lamp columns, car parks ...) or the scratch layer</source>
        <translation>Safleoedd posibl: unrhyw haen bwyntiau (colofnau golau stryd, meysydd parcio ...) neu'r haen dros dro</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="48"/>
        <source>Scratch layer</source>
        <translation>Haen dros dro</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="49"/>
        <source>Use (or create) the memory layer &quot;Candidate sites&quot; in EPSG:27700</source>
        <translation>Defnyddio (neu greu) yr haen yn y cof &quot;Safleoedd posibl&quot; yn EPSG:27700</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="53"/>
        <source>Sites layer</source>
        <translation>Haen safleoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="62"/>
        <source>Primary catchment distance (straight line); scores and ranks are for this distance</source>
        <translation>Prif bellter y dalgylch (llinell syth); mae'r sgoriau a'r rhengoedd ar gyfer y pellter hwn</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="65"/>
        <source>Distance</source>
        <translation>Pellter</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="69"/>
        <source>{d} m</source>
        <translation>{d} m</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="70"/>
        <source>Also report the figures within this distance</source>
        <translation>Adrodd y ffigurau o fewn y pellter hwn hefyd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="74"/>
        <source>Extra rings</source>
        <translation>Cylchoedd ychwanegol</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="79"/>
        <source>None (straight line only)</source>
        <translation>Dim (llinell syth yn unig)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="81"/>
        <source>Street network for walking catchments: any line layer (OS Open Roads, OpenStreetMap …) or a GeoPackage file. Adds devices_within_walk and residents_within_walk and a Walking catchments layer; none: straight line only</source>
        <translation>Rhwydwaith strydoedd ar gyfer dalgylchoedd cerdded: unrhyw haen linellau (OS Open Roads, OpenStreetMap …) neu ffeil GeoPackage. Yn ychwanegu devices_within_walk a residents_within_walk a haen Dalgylchoedd cerdded; dim: llinell syth yn unig</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="88"/>
        <source>File…</source>
        <translation>Ffeil…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="89"/>
        <source>Use a street network GeoPackage (its first line layer)</source>
        <translation>Defnyddio GeoPackage rhwydwaith strydoedd (ei haen linellau gyntaf)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="93"/>
        <source>Street network</source>
        <translation>Rhwydwaith strydoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="97"/>
        <source>metres</source>
        <translation>metrau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="98"/>
        <source>minutes</source>
        <translation>munudau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="99"/>
        <source>Minutes are walked at 4.8 km/h (80 m a minute)</source>
        <translation>Cyfrifir munudau ar gyflymder cerdded o 4.8 km/awr (80 m y funud)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="103"/>
        <source>How far a driver walks from the charge point, along the streets</source>
        <translation>Pa mor bell y mae gyrrwr yn cerdded o'r pwynt gwefru, ar hyd y strydoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="111"/>
        <source>Walk</source>
        <translation>Cerdded</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="119"/>
        <source>New coverage</source>
        <translation>Cwmpas newydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="120"/>
        <source>Unique coverage</source>
        <translation>Cwmpas unigryw</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="121"/>
        <source>Residents</source>
        <translation>Trigolion</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="121"/>
        <source>Demand nearby</source>
        <translation>Galw gerllaw</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="122"/>
        <source>kWh nearby</source>
        <translation>kWh gerllaw</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="122"/>
        <source>Gap to nearest</source>
        <translation>Bwlch i'r agosaf</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="123"/>
        <source>Demand gap (wards)</source>
        <translation>Bwlch galw (wardiau)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="142"/>
        <source>Weights</source>
        <translation>Pwysiadau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="146"/>
        <source>Add / move sites on the map</source>
        <translation>Ychwanegu / symud safleoedd ar y map</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="148"/>
        <source>Click the map to add a site; press on a site and drag to move it</source>
        <translation>Cliciwch ar y map i ychwanegu safle; pwyswch ar safle a'i lusgo i'w symud</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="152"/>
        <source>Analyse layer</source>
        <translation>Dadansoddi'r haen</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="153"/>
        <source>Analyse every site of the layer again</source>
        <translation>Dadansoddi pob safle yn yr haen eto</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="162"/>
        <source>Suggest K sites</source>
        <translation>Awgrymu K safle</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="163"/>
        <source>Pick K sites of the layer by greedy maximal new coverage at the primary distance, existing devices fixed</source>
        <translation>Dewis K safle o'r haen yn ôl y cwmpas newydd mwyaf (dull barus) ar y prif bellter, gyda'r dyfeisiau presennol yn sefydlog</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="167"/>
        <source>K</source>
        <translation>K</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="172"/>
        <source>Choose a sites layer or start the map tool.</source>
        <translation>Dewiswch haen safleoedd neu dechreuwch yr offeryn map.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="183"/>
        <source>Step</source>
        <translation>Cam</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="183"/>
        <source>Site</source>
        <translation>Safle</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="183"/>
        <source>Gain (residents)</source>
        <translation>Ennill (trigolion)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="183"/>
        <source>Covered %</source>
        <translation>Cwmpas %</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="190"/>
        <source>Export GeoPackage…</source>
        <translation>Allforio GeoPackage…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_form.py" line="192"/>
        <source>Export CSV…</source>
        <translation>Allforio CSV…</translation>
    </message>
</context>
<context>
    <name>SitesWalkingMixin</name>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="82"/>
        <source>Street network</source>
        <translation>Rhwydwaith strydoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="82"/>
        <source>GeoPackage (*.gpkg)</source>
        <translation>GeoPackage (*.gpkg)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="135"/>
        <source>≈ {m:g} min</source>
        <translation>≈ {m:g} mun</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="135"/>
        <source>= {d:,.0f} m</source>
        <translation>= {d:,.0f} m</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="142"/>
        <source>Walking catchments along this network&apos;s streets.</source>
        <translation>Dalgylchoedd cerdded ar hyd strydoedd y rhwydwaith hwn.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="144"/>
        <source>{name}: {edges:,} street segments, {km:,.1f} km.</source>
        <translation>{name}: {edges:,} o ddarnau stryd, {km:,.1f} km.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="167"/>
        <source>The street network layer is not usable.</source>
        <translation>Nid oes modd defnyddio haen y rhwydwaith strydoedd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="185"/>
        <source>Building the street network…</source>
        <translation>Wrthi'n adeiladu'r rhwydwaith strydoedd…</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="187"/>
        <source>Building the street network</source>
        <translation>Adeiladu'r rhwydwaith strydoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="200"/>
        <source>The street network layer has no lines.</source>
        <translation>Nid oes llinellau yn haen y rhwydwaith strydoedd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="208"/>
        <source>Street network ready ({s:.1f} s).</source>
        <translation>Rhwydwaith strydoedd yn barod ({s:.1f} s).</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="220"/>
        <source>Building the street network was cancelled; press Analyse layer to build it again.</source>
        <translation>Cafodd adeiladu'r rhwydwaith strydoedd ei ganslo; pwyswch Dadansoddi'r haen i'w adeiladu eto.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/sites_walking.py" line="307"/>
        <source>Drawing walking catchments</source>
        <translation>Lluniadu dalgylchoedd cerdded</translation>
    </message>
</context>
<context>
    <name>StoreAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="92"/>
        <source>Store: {store}</source>
        <translation>Storfa: {store}</translation>
    </message>
</context>
<context>
    <name>SuggestSitesAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="302"/>
        <source>Number of sites to pick</source>
        <translation>Nifer y safleoedd i'w dewis</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="306"/>
        <source>Suggested sites</source>
        <translation>Safleoedd a awgrymir</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="291"/>
        <source>Suggest sites</source>
        <translation>Awgrymu safleoedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="292"/>
        <source>Picks up to K of the candidate sites by greedy maximal coverage with the existing devices fixed: each step takes the candidate that newly covers the most residents within the distance, given the existing devices and the candidates already picked (its gain). Stops early when no candidate covers anyone new. Greedy picks are within a factor 1 - 1/e of the best set of K.</source>
        <translation>Yn dewis hyd at K o'r safleoedd posibl yn ôl y cwmpas mwyaf (dull barus), gyda'r dyfeisiau presennol yn sefydlog: ym mhob cam dewisir y safle posibl sy'n cwmpasu'r nifer mwyaf o drigolion newydd o fewn y pellter, o ystyried y dyfeisiau presennol a'r safleoedd a ddewiswyd eisoes (ei ennill). Mae'n stopio'n gynnar pan nad oes unrhyw safle posibl yn cwmpasu neb newydd. Mae'r dewisiadau barus o fewn ffactor 1 - 1/e i'r set orau o K.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="317"/>
        <source>{step}. {site}: +{gain} residents (covered {pct}%)</source>
        <translation>{step}. {site}: +{gain} o drigolion (cwmpas {pct}%)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="322"/>
        <source>No other candidate covers anyone new within {d} m.</source>
        <translation>Nid oes unrhyw safle posibl arall yn cwmpasu neb newydd o fewn {d} m.</translation>
    </message>
</context>
<context>
    <name>SummariseByAreaAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="109"/>
        <source>Areas (empty: London boroughs or wards)</source>
        <translation>Ardaloedd (gwag: bwrdeistrefi neu wardiau Llundain)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="109"/>
        <source>Area code field (detected if empty)</source>
        <translation>Maes cod yr ardal (caiff ei ganfod os yw'n wag)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="109"/>
        <source>Area name field (detected if empty)</source>
        <translation>Maes enw'r ardal (caiff ei ganfod os yw'n wag)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="112"/>
        <source>Level</source>
        <translation>Lefel</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="112"/>
        <source>Borough</source>
        <translation>Bwrdeistref</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="112"/>
        <source>Ward</source>
        <translation>Ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="115"/>
        <source>Period, e.g. 2022-Q2 (empty: the latest with substantial usage)</source>
        <translation>Cyfnod, e.e. 2022-Q2 (gwag: yr un diweddaraf gyda defnydd sylweddol)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="118"/>
        <source>Period length</source>
        <translation>Hyd y cyfnod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="118"/>
        <source>Month</source>
        <translation>Mis</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="118"/>
        <source>Quarter</source>
        <translation>Chwarter</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="118"/>
        <source>Year</source>
        <translation>Blwyddyn</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="121"/>
        <source>Only these operators</source>
        <translation>Y gweithredwyr hyn yn unig</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="123"/>
        <source>Only these power classes (slow, fast, rapid, ultra)</source>
        <translation>Y dosbarthiadau pŵer hyn yn unig (slow, fast, rapid, ultra)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="126"/>
        <source>Only these location types</source>
        <translation>Y mathau o leoliad hyn yn unig</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="135"/>
        <source>Areas with summary</source>
        <translation>Ardaloedd gyda chrynodeb</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="138"/>
        <source>Summary table</source>
        <translation>Tabl crynodeb</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="128"/>
        <source>Suppress usage of areas with fewer devices than</source>
        <translation>Atal defnydd ardaloedd sydd â llai o ddyfeisiau na</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="132"/>
        <source>Not for publication: keep every usage figure (outputs say INTERNAL)</source>
        <translation>Nid i'w gyhoeddi: cadw pob ffigur defnydd (mae'r allbynnau'n dweud INTERNAL)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="160"/>
        <source>Choose where to write the areas with summary, the summary table, or both.</source>
        <translation>Dewiswch ble i ysgrifennu'r ardaloedd gyda chrynodeb, y tabl crynodeb, neu'r ddau.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="187"/>
        <source>{note}: {n} of {areas} areas</source>
        <translation>{note}: {n} o {areas} o ardaloedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="141"/>
        <source>Devices in the areas</source>
        <translation>Dyfeisiau yn yr ardaloedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="142"/>
        <source>Period shown</source>
        <translation>Y cyfnod a ddangosir</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="143"/>
        <source>Assignment report</source>
        <translation>Adroddiad dyrannu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="182"/>
        <source>{n} devices in {areas} areas</source>
        <translation>{n} o ddyfeisiau mewn {areas} o ardaloedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="221"/>
        <source>The areas output cannot be created.</source>
        <translation>Ni ellir creu allbwn yr ardaloedd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="231"/>
        <source>{n} areas have no geometry</source>
        <translation>Nid oes geometreg gan {n} o ardaloedd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="271"/>
        <source>No area code field found in the areas layer (looked for GSS_CODE, CODE, AREA_CODE or a field ending in CD); choose the code field.</source>
        <translation>Ni chanfuwyd maes cod ardal yn haen yr ardaloedd (chwiliwyd am GSS_CODE, CODE, AREA_CODE neu faes sy'n gorffen yn CD); dewiswch y maes cod.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="281"/>
        <source>The areas layer has no coordinate reference system.</source>
        <translation>Nid oes system cyfeirnodau cyfesurynnau gan haen yr ardaloedd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="289"/>
        <source>Reprojecting the areas from {crs} to EPSG:27700</source>
        <translation>Wrthi'n ailragamcanu'r ardaloedd o {crs} i EPSG:27700</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="322"/>
        <source>The areas cannot be copied: {error}</source>
        <translation>Ni ellir copïo'r ardaloedd: {error}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="86"/>
        <source>Summarise charge points by area</source>
        <translation>Crynhoi pwyntiau gwefru fesul ardal</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="87"/>
        <source>Analysis</source>
        <translation>Dadansoddi</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/summary_algorithm.py" line="89"/>
        <source>Charge devices, connectors, power classes, devices per 10,000 residents and, when the store holds usage, sessions, kWh, occupancy % and capacity factor % for each area, with the change against the previous period. Ratios are recomputed from sums, never averaged.

Areas: leave the areas layer empty to use London&apos;s boroughs or wards (2018, with 2015 population), or give any polygon layer with a code field (and a name field); those fields are detected when not chosen. Each device is placed once in one area (points exactly on a boundary go to the area to their east).

Filters take one value or several separated by semicolons (or commas); case does not matter and &apos;unknown&apos; matches devices without the value.

Disclosure: usage figures of areas with fewer devices than the threshold, or from a single operator, are suppressed, and so is a partner area where a published total would give one away; device counts are always shown. &apos;Not for publication&apos; keeps every figure and names the outputs INTERNAL.

Outputs: the areas with their polygons, the same figures as a table, or both (leave one out to skip it).</source>
        <translation>Dyfeisiau gwefru, cysylltwyr, dosbarthiadau pŵer, dyfeisiau fesul 10,000 o drigolion ac, os yw'r storfa'n cynnwys data defnydd, sesiynau, kWh, cyfradd defnyddio % a ffactor capasiti % ar gyfer pob ardal, gyda'r newid o'i gymharu â'r cyfnod blaenorol. Caiff cymarebau eu hailgyfrifo o symiau, nid eu cyfartaleddu byth.

Ardaloedd: gadewch haen yr ardaloedd yn wag i ddefnyddio bwrdeistrefi neu wardiau Llundain (2018, gyda phoblogaeth 2015), neu rhowch unrhyw haen bolygonau sydd â maes cod (a maes enw); caiff y meysydd hynny eu canfod os na chânt eu dewis. Caiff pob dyfais ei gosod unwaith mewn un ardal (mae pwyntiau sydd yn union ar ffin yn mynd i'r ardal i'r dwyrain ohonynt).

Mae hidlyddion yn derbyn un gwerth neu sawl un wedi'u gwahanu gan hanner colonau (neu atalnodau); nid yw priflythrennau o bwys, ac mae 'unknown' yn cyfateb i ddyfeisiau heb y gwerth.

Datgelu: caiff ffigurau defnydd ardaloedd sydd â llai o ddyfeisiau na'r trothwy, neu gan un gweithredwr yn unig, eu hatal, ac felly hefyd ardal bartner lle byddai cyfanswm cyhoeddedig yn datgelu un; dangosir nifer y dyfeisiau bob amser. Mae 'Nid i'w gyhoeddi' yn cadw pob ffigur ac yn enwi'r allbynnau'n INTERNAL.

Allbynnau: yr ardaloedd gyda'u polygonau, yr un ffigurau fel tabl, neu'r ddau (gadewch un allan i'w hepgor).</translation>
    </message>
</context>
<context>
    <name>SummaryTableModel</name>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="58"/>
        <source>Area</source>
        <translation>Ardal</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="58"/>
        <source>Code</source>
        <translation>Cod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="59"/>
        <source>Devices</source>
        <translation>Dyfeisiau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="59"/>
        <source>Connectors</source>
        <translation>Cysylltwyr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="60"/>
        <source>Rapid %</source>
        <translation>Cyflym iawn %</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="60"/>
        <source>Per 10k</source>
        <translation>Fesul 10k</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="61"/>
        <source>Population</source>
        <translation>Poblogaeth</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="61"/>
        <source>Sessions</source>
        <translation>Sesiynau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="62"/>
        <source>kWh</source>
        <translation>kWh</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="62"/>
        <source>Occupancy %</source>
        <translation>Cyfradd defnyddio %</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="63"/>
        <source>Capacity factor %</source>
        <translation>Ffactor capasiti %</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="64"/>
        <source>No usage data %</source>
        <translation>Dim data defnydd %</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="65"/>
        <source>Sessions change %</source>
        <translation>Newid sesiynau %</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="66"/>
        <source>Occupancy change (pp)</source>
        <translation>Newid cyfradd defnyddio (pp)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="115"/>
        <source>no data</source>
        <translation>dim data</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="132"/>
        <source>Unknown: no usage record for this area and period</source>
        <translation>Anhysbys: dim cofnod defnydd ar gyfer yr ardal a'r cyfnod hwn</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="67"/>
        <source>Uptime %</source>
        <translation>Amser gweithredu %</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="68"/>
        <source>Uptime observed h</source>
        <translation>Oriau a arsylwyd (amser gweithredu)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/table_model.py" line="130"/>
        <source>Unknown: no observed working or not-working time for this area and period</source>
        <translation>Anhysbys: dim amser yn gweithio neu ddim yn gweithio wedi'i arsylwi ar gyfer yr ardal a'r cyfnod hwn</translation>
    </message>
</context>
<context>
    <name>TrendChart</name>
    <message>
        <location filename="../ev_chargepoints/gui/summary/trend_chart.py" line="66"/>
        <source>No usage data to chart</source>
        <translation>Dim data defnydd i'w ddangos mewn siart</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/trend_chart.py" line="70"/>
        <source>{period}: {sessions} sessions, occupancy {occupancy}</source>
        <translation>{period}: {sessions} o sesiynau, cyfradd defnyddio {occupancy}</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/trend_chart.py" line="112"/>
        <source>sessions</source>
        <translation>sesiynau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/gui/summary/trend_chart.py" line="112"/>
        <source>occupancy %</source>
        <translation>cyfradd defnyddio %</translation>
    </message>
</context>
<context>
    <name>UtilisationAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="335"/>
        <source>Period</source>
        <translation>Cyfnod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="338"/>
        <source>Per</source>
        <translation>Fesul</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="343"/>
        <source>Utilisation table</source>
        <translation>Tabl defnydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="311"/>
        <source>Utilisation per device and period</source>
        <translation>Defnydd fesul dyfais a chyfnod</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="312"/>
        <source>Analysis</source>
        <translation>Dadansoddi</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="314"/>
        <source>From sessions: one row per device (or connector) and calendar period (UK time) with sessions, kWh, plugged-in hours, occupancy % (plugged-in time ÷ available time), capacity factor % (kWh ÷ rated kW × available hours), sessions and kWh per day, in-use days and idle share; where the store also holds watched status for the device, uptime % with the observed hours behind it (status_observed_hours). Sessions belong to the period they start in; plugged-in time is split at period boundaries.

From watched live status (what 'Watch live status' or the 'watch' command collected): one row per device or EVSE and period with uptime % (working ÷ working + not working time, 2023 regulations), the observed hours and observations behind it, and the shares of observed time charging, available and down. Only observed time counts: an observation holds until the EVSE's next one, for at most the hours set (default 1); longer gaps count neither way.</source>
        <translation>O sesiynau: un rhes fesul dyfais (neu gysylltydd) a chyfnod calendr (amser y DU) gyda sesiynau, kWh, oriau wedi'u plygio i mewn, cyfradd defnyddio % (amser wedi'i blygio i mewn ÷ amser ar gael), ffactor capasiti % (kWh ÷ kW graddedig × oriau ar gael), sesiynau a kWh y dydd, diwrnodau mewn defnydd a chyfran segur; lle mae'r storfa hefyd yn dal statws a wyliwyd ar gyfer y ddyfais, amser gweithredu % gyda'r oriau a arsylwyd y tu ôl iddo (status_observed_hours). Mae sesiwn yn perthyn i'r cyfnod y mae'n dechrau ynddo; caiff amser wedi'i blygio i mewn ei rannu ar ffiniau cyfnodau.

O statws byw a wyliwyd (yr hyn a gasglodd 'Gwylio statws byw' neu'r gorchymyn 'watch'): un rhes fesul dyfais neu EVSE a chyfnod gydag amser gweithredu % (amser yn gweithio ÷ amser yn gweithio + ddim yn gweithio, rheoliadau 2023), yr oriau a'r arsylwadau a arsylwyd y tu ôl iddo, a'r cyfrannau o'r amser a arsylwyd yn gwefru, ar gael ac i lawr. Dim ond amser a arsylwyd sy'n cyfrif: mae arsylwad yn dal tan arsylwad nesaf yr EVSE, am yr oriau a osodwyd ar y mwyaf (1 yn ddiofyn); nid yw bylchau hirach yn cyfrif y naill ffordd na'r llall.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="335"/>
        <source>month</source>
        <translation>mis</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="335"/>
        <source>quarter</source>
        <translation>chwarter</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="335"/>
        <source>year</source>
        <translation>blwyddyn</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="338"/>
        <source>device</source>
        <translation>dyfais</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="338"/>
        <source>connector</source>
        <translation>cysylltydd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="332"/>
        <source>From</source>
        <translation>O</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="332"/>
        <source>sessions</source>
        <translation>sesiynau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="332"/>
        <source>watched live status</source>
        <translation>statws byw a wyliwyd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="338"/>
        <source>EVSE (watched live status only)</source>
        <translation>EVSE (statws byw a wyliwyd yn unig)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="354"/>
        <source>Watched live status is per device or EVSE, not per connector.</source>
        <translation>Mae statws byw a wyliwyd fesul dyfais neu EVSE, nid fesul cysylltydd.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="359"/>
        <source>Per EVSE needs &apos;From: watched live status&apos;.</source>
        <translation>Mae fesul EVSE angen 'O: statws byw a wyliwyd'.</translation>
    </message>
</context>
<context>
    <name>ValidateAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="57"/>
        <source>Device reference data (optional)</source>
        <translation>Data cyfeirio dyfeisiau (dewisol)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="60"/>
        <source>Return period, e.g. 2024-Q1 (empty = inferred)</source>
        <translation>Cyfnod y ffurflen, e.e. 2024-Q1 (gwag = caiff ei gasglu)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="62"/>
        <source>Data older than this many days is stale</source>
        <translation>Mae data sy'n hŷn na'r nifer hwn o ddiwrnodau wedi dyddio</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="65"/>
        <source>Report folder</source>
        <translation>Ffolder yr adroddiad</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="67"/>
        <source>Report (HTML)</source>
        <translation>Adroddiad (HTML)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="68"/>
        <source>Verdict per operator</source>
        <translation>Dyfarniad fesul gweithredwr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="26"/>
        <source>Check files against the data standard</source>
        <translation>Gwirio ffeiliau yn erbyn y safon ddata</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="27"/>
        <source>Data</source>
        <translation>Data</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="29"/>
        <source>Checks usage returns, device reference data, NCR exports and OCPI Locations JSON against the plugin&apos;s data standard (docs/data-standard.md) and writes a per-operator conformance report (report.html and report.json) with a pass / warn / fail verdict and the reasons. Problems in the files are findings in the report, not errors.

Reliability (2023 regulations: a rapid network must reach 99 %) counts observed time only: a status observation holds until the EVSE&apos;s next one, for at most the hours set (default 1); longer gaps count neither way. Tick &apos;Include the store&apos;s watched status history&apos; to use what &apos;Watch live status&apos; collected. Every reliability figure comes with its observed hours and observations; with fewer counted hours than the minimum (default 24) it says &apos;not enough observed time&apos; instead of pass or fail. The RELIABILITY output lists them per operator.</source>
        <translation>Yn gwirio ffurflenni defnydd, data cyfeirio dyfeisiau, allforion NCR a JSON Locations OCPI yn erbyn safon ddata'r ategyn (docs/data-standard.md) ac yn ysgrifennu adroddiad cydymffurfio fesul gweithredwr (report.html a report.json) gyda dyfarniad pass / warn / fail a'r rhesymau. Canfyddiadau yn yr adroddiad yw problemau yn y ffeiliau, nid gwallau.

Mae dibynadwyedd (rheoliadau 2023: rhaid i rwydwaith cyflym gyrraedd 99 %) yn cyfrif amser a arsylwyd yn unig: mae arsylwad statws yn dal tan arsylwad nesaf yr EVSE, am yr oriau a osodwyd ar y mwyaf (1 yn ddiofyn); nid yw bylchau hirach yn cyfrif y naill ffordd na'r llall. Ticiwch 'Cynnwys hanes statws a wyliwyd yn y storfa' i ddefnyddio'r hyn a gasglodd 'Gwylio statws byw'. Daw pob ffigur dibynadwyedd gyda'i oriau a'i arsylwadau a arsylwyd; gyda llai o oriau a gyfrifwyd na'r isafswm (24 yn ddiofyn) mae'n dweud 'not enough observed time' (dim digon o amser a arsylwyd) yn lle pass neu fail. Mae'r allbwn RELIABILITY yn eu rhestru fesul gweithredwr.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="45"/>
        <source>Files to check (optional with the store&apos;s status history)</source>
        <translation>Ffeiliau i'w gwirio (dewisol gyda hanes statws y storfa)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="48"/>
        <source>Include the store&apos;s watched status history</source>
        <translation>Cynnwys hanes statws a wyliwyd yn y storfa</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="53"/>
        <source>Counted hours needed for a pass or fail</source>
        <translation>Oriau a gyfrifwyd sydd eu hangen i lwyddo neu fethu</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="69"/>
        <source>Reliability per operator, with its observed hours</source>
        <translation>Dibynadwyedd fesul gweithredwr, gyda'i oriau a arsylwyd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/validate_algorithm.py" line="96"/>
        <source>Choose files to check, or include the store&apos;s watched status history.</source>
        <translation>Dewiswch ffeiliau i'w gwirio, neu cynhwyswch hanes statws a wyliwyd yn y storfa.</translation>
    </message>
</context>
<context>
    <name>WardDemandAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="37"/>
        <source>Demand for public charge points by ward</source>
        <translation>Galw am bwyntiau gwefru cyhoeddus fesul ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="39"/>
        <source>Analysis</source>
        <translation>Dadansoddi</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="41"/>
        <source>How many public connectors each ward needs under a scenario, how many it has (connectors of the reconciled devices in the ward) and the gap.

Per ward: cars = household spaces × cars per household (GLA ward profiles, 2011 Census); EVs = cars × share of cars electric; EVs relying on public charging = EVs × share without off-street parking (by default each ward's share of flats and terraced houses, times a factor, or one share for every ward); connectors needed = EVs relying on public charging × kWh per EV a day ÷ what one connector delivers a day (rated kW × 24 h × target occupancy, or a value given), rounded up; gap = needed − now.

Start from a named preset (the 2030 preset is set against the GLA's 2021 London EV infrastructure strategy: 40,000–60,000 public charge points by 2030) or a scenario saved as JSON, and change any value; empty values keep the preset's. Every row names the scenario values and the data vintage behind it; wards without ward-profile figures are left blank and say so.

Areas: leave empty for London's 2018 wards, or give a ward layer whose codes are 2011 ward codes.</source>
        <translation>Faint o gysylltwyr cyhoeddus sydd eu hangen ar bob ward o dan senario, faint sydd ganddi (cysylltwyr y dyfeisiau wedi'u cysoni yn y ward) a'r bwlch.

Fesul ward: ceir = lleoedd aelwydydd × ceir fesul aelwyd (proffiliau wardiau'r GLA, Cyfrifiad 2011); cerbydau trydan = ceir × cyfran y ceir sy'n drydanol; cerbydau trydan sy'n dibynnu ar wefru cyhoeddus = cerbydau trydan × cyfran heb le parcio oddi ar y stryd (yn ddiofyn cyfran fflatiau a thai teras pob ward, wedi'i lluosi â ffactor, neu un gyfran i bob ward); cysylltwyr sydd eu hangen = cerbydau trydan sy'n dibynnu ar wefru cyhoeddus × kWh fesul cerbyd y dydd ÷ yr hyn y mae un cysylltydd yn ei gyflenwi y dydd (kW graddedig × 24 awr × defnydd targed, neu werth a roddir), wedi'i dalgrynnu i fyny; bwlch = angen − nawr.

Dechreuwch o senario rhagosodedig a enwir (mae rhagosodiad 2030 wedi'i osod yn erbyn strategaeth seilwaith cerbydau trydan Llundain 2021 y GLA: 40,000–60,000 o bwyntiau gwefru cyhoeddus erbyn 2030) neu senario wedi'i gadw fel JSON, a newidiwch unrhyw werth; mae gwerthoedd gwag yn cadw rhai'r rhagosodiad. Mae pob rhes yn enwi gwerthoedd y senario a hynafiaeth y data y tu ôl iddi; gadewir wardiau heb ffigurau proffil ward yn wag ac maent yn dweud hynny.

Ardaloedd: gadewch yn wag ar gyfer wardiau 2018 Llundain, neu rhowch haen wardiau y mae ei chodau'n godau wardiau 2011.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="61"/>
        <source>Wards (empty: London wards 2018)</source>
        <translation>Wardiau (gwag: wardiau Llundain 2018)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="61"/>
        <source>Ward code field (detected if empty)</source>
        <translation>Maes cod y ward (wedi'i ganfod os yw'n wag)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="61"/>
        <source>Ward name field (detected if empty)</source>
        <translation>Maes enw'r ward (wedi'i ganfod os yw'n wag)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="65"/>
        <source>Scenario preset</source>
        <translation>Senario rhagosodedig</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="68"/>
        <source>Scenario saved as JSON (instead of the preset)</source>
        <translation>Senario wedi'i gadw fel JSON (yn lle'r rhagosodiad)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="73"/>
        <source>Share of cars that are electric (0–1)</source>
        <translation>Cyfran y ceir sy'n drydanol (0–1)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="74"/>
        <source>Share of EVs without off-street parking, every ward (empty: each ward&apos;s housing mix)</source>
        <translation>Cyfran y cerbydau trydan heb le parcio oddi ar y stryd, pob ward (gwag: cymysgedd tai pob ward)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="76"/>
        <source>Factor on each ward&apos;s housing-mix share</source>
        <translation>Ffactor ar gyfran cymysgedd tai pob ward</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="77"/>
        <source>Energy per EV a day (kWh)</source>
        <translation>Ynni fesul cerbyd trydan y dydd (kWh)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="78"/>
        <source>Rated power of a public connector (kW)</source>
        <translation>Pŵer graddedig cysylltydd cyhoeddus (kW)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="79"/>
        <source>Target occupancy of a public connector (0–1)</source>
        <translation>Defnydd targed cysylltydd cyhoeddus (0–1)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="80"/>
        <source>What one connector delivers a day (kWh; empty: kW × 24 h × occupancy)</source>
        <translation>Yr hyn y mae un cysylltydd yn ei gyflenwi y dydd (kWh; gwag: kW × 24 awr × defnydd)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="87"/>
        <source>Wards with demand</source>
        <translation>Wardiau gyda galw</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="90"/>
        <source>Demand table</source>
        <translation>Tabl galw</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="93"/>
        <source>Connectors needed</source>
        <translation>Cysylltwyr sydd eu hangen</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="93"/>
        <source>Connectors now</source>
        <translation>Cysylltwyr nawr</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="93"/>
        <source>Gap (needed − now)</source>
        <translation>Bwlch (angen − nawr)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="97"/>
        <source>Inputs behind the figures</source>
        <translation>Mewnbynnau y tu ôl i'r ffigurau</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="120"/>
        <source>Choose where to write the wards with demand, the demand table, or both.</source>
        <translation>Dewiswch ble i ysgrifennu'r wardiau gyda galw, y tabl galw, neu'r ddau.</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/demand_algorithm.py" line="134"/>
        <source>{needed} connectors needed, {now} now, gap {gap}</source>
        <translation>{needed} cysylltydd sydd eu hangen, {now} nawr, bwlch {gap}</translation>
    </message>
</context>
<context>
    <name>_FetchAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="175"/>
        <source>Rows added</source>
        <translation>Rhesi a ychwanegwyd</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="176"/>
        <source>Fetch report</source>
        <translation>Adroddiad nôl</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/data_algorithms.py" line="183"/>
        <source>Skipped {resource}</source>
        <translation>Wedi hepgor {resource}</translation>
    </message>
</context>
<context>
    <name>_SitesAlgorithm</name>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="172"/>
        <source>Candidate sites (points)</source>
        <translation>Safleoedd posibl (pwyntiau)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="175"/>
        <source>Site identifier field (default: feature id)</source>
        <translation>Maes dynodydd y safle (rhagosodiad: dynodydd y nodwedd)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="178"/>
        <source>Catchment distance (m)</source>
        <translation>Pellter y dalgylch (m)</translation>
    </message>
    <message>
        <location filename="../ev_chargepoints/processing/algorithms/sites_algorithms.py" line="168"/>
        <source>Candidate sites</source>
        <translation>Safleoedd posibl</translation>
    </message>
</context>
</TS>
