"""The Flat ODT document tests/office.py fills in: one XML file LibreOffice opens like an .odt.

``FODT.format(header=…, footer=…, styles=…, body=…)`` gives the document: `header` is the running
header's left part (the right part is "Side N af M" from page fields), `footer` the running
footer, `styles` automatic styles the body needs (table column widths), `body` the paragraphs.
All text must be XML-escaped.
"""

# Styles as a kommune's template has them: DejaVu Sans (installed with LibreOffice, like Arial
# elsewhere), Danish language with automatic hyphenation, justified body text, bold headings
# (hyphenated too, as Word does with automatic hyphenation on: a long word in a narrow column
# would otherwise be broken without a hyphen), table text small and not hyphenated (the columns
# are as wide as their longest word).
_BOLD = 'fo:font-weight="bold" style:font-weight-asian="bold" style:font-weight-complex="bold"'
_HEADING = 'fo:margin-top="0.35cm" fo:margin-bottom="0.15cm" fo:keep-with-next="always" fo:text-align="start"'
FODT = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:font-face-decls>
 <style:font-face style:name="DejaVu Sans" svg:font-family="'DejaVu Sans'" style:font-family-generic="swiss"/>
</office:font-face-decls>
<office:styles>
 <style:default-style style:family="paragraph">
  <style:paragraph-properties fo:hyphenation-ladder-count="no-limit"/>
  <style:text-properties style:font-name="DejaVu Sans" fo:font-size="10.5pt" fo:language="da" fo:country="DK"
   fo:hyphenate="true" fo:hyphenation-remain-char-count="2" fo:hyphenation-push-char-count="2"/>
 </style:default-style>
 <style:style style:name="Standard" style:family="paragraph"/>
 <style:style style:name="Body" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:text-align="justify" fo:margin-top="0cm" fo:margin-bottom="0.2cm"/>
 </style:style>
 <style:style style:name="ListText" style:family="paragraph" style:parent-style-name="Body">
  <style:paragraph-properties fo:margin-bottom="0.1cm"/>
 </style:style>
 <style:style style:name="Heading1" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties {_HEADING}/><style:text-properties fo:font-size="16pt" {_BOLD}/>
 </style:style>
 <style:style style:name="Heading2" style:family="paragraph" style:parent-style-name="Heading1">
  <style:paragraph-properties fo:margin-top="0.5cm"/><style:text-properties fo:font-size="13pt"/>
 </style:style>
 <style:style style:name="Heading3" style:family="paragraph" style:parent-style-name="Heading1">
  <style:text-properties fo:font-size="12pt"/>
 </style:style>
 <style:style style:name="Heading4" style:family="paragraph" style:parent-style-name="Heading1">
  <style:text-properties fo:font-size="11pt"/>
 </style:style>
 <style:style style:name="BoldParagraph" style:family="paragraph" style:parent-style-name="Heading1">
  <style:text-properties fo:font-size="10.5pt"/>
 </style:style>
 <style:style style:name="ClosedItem" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:margin-top="0cm" fo:margin-bottom="0.05cm"/>
  <style:text-properties {_BOLD}/>
 </style:style>
 <style:style style:name="ClosedItemFirst" style:family="paragraph" style:parent-style-name="ClosedItem">
  <style:paragraph-properties fo:break-before="page"/>
 </style:style>
 <style:style style:name="Toc" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:margin-bottom="0.05cm">
   <style:tab-stops><style:tab-stop style:position="16cm" style:type="right"/></style:tab-stops>
  </style:paragraph-properties>
 </style:style>
 <style:style style:name="CellText" style:family="paragraph" style:parent-style-name="Standard">
  <style:text-properties fo:font-size="8.5pt" fo:hyphenate="false"/>
 </style:style>
 <style:style style:name="HeaderFooter" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties>
   <style:tab-stops><style:tab-stop style:position="16cm" style:type="right"/></style:tab-stops>
  </style:paragraph-properties>
  <style:text-properties fo:font-size="8.5pt" fo:hyphenate="false"/>
 </style:style>
 <style:style style:name="T_b" style:family="text"><style:text-properties {_BOLD}/></style:style>
 <style:style style:name="T_i" style:family="text"><style:text-properties fo:font-style="italic"/></style:style>
 <style:style style:name="T_sup" style:family="text"><style:text-properties style:text-position="super 58%"/></style:style>
 <style:style style:name="T_b_sup" style:family="text">
  <style:text-properties {_BOLD} style:text-position="super 58%"/>
 </style:style>
 <style:style style:name="T_b_i" style:family="text"><style:text-properties {_BOLD} fo:font-style="italic"/></style:style>
 <style:style style:name="T_sup_i" style:family="text">
  <style:text-properties fo:font-style="italic" style:text-position="super 58%"/>
 </style:style>
 <style:style style:name="T_b_sup_i" style:family="text">
  <style:text-properties {_BOLD} fo:font-style="italic" style:text-position="super 58%"/>
 </style:style>
 <text:list-style style:name="Bullets">
  <text:list-level-style-bullet text:level="1" text:bullet-char="•">
   <style:list-level-properties text:list-level-position-and-space-mode="label-alignment">
    <style:list-level-label-alignment text:label-followed-by="listtab" text:list-tab-stop-position="0.6cm"
     fo:text-indent="-0.6cm" fo:margin-left="0.6cm"/>
   </style:list-level-properties>
  </text:list-level-style-bullet>
  <text:list-level-style-bullet text:level="2" text:bullet-char="–">
   <style:list-level-properties text:list-level-position-and-space-mode="label-alignment">
    <style:list-level-label-alignment text:label-followed-by="listtab" text:list-tab-stop-position="1.2cm"
     fo:text-indent="-0.6cm" fo:margin-left="1.2cm"/>
   </style:list-level-properties>
  </text:list-level-style-bullet>
 </text:list-style>
</office:styles>
<office:automatic-styles>
 <style:page-layout style:name="Page">
  <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm" fo:margin-top="1.2cm"
   fo:margin-bottom="1.2cm" fo:margin-left="2.5cm" fo:margin-right="2.5cm"/>
  <style:header-style><style:header-footer-properties fo:min-height="0cm" fo:margin-bottom="0.7cm"/></style:header-style>
  <style:footer-style><style:header-footer-properties fo:min-height="0cm" fo:margin-top="0.7cm"/></style:footer-style>
 </style:page-layout>
 <style:style style:name="Columns" style:family="section">
  <style:section-properties><style:columns fo:column-count="2" fo:column-gap="0.8cm"/></style:section-properties>
 </style:style>
 <style:style style:name="Table" style:family="table">
  <style:table-properties style:width="16cm" table:align="margins" fo:margin-top="0.1cm" fo:margin-bottom="0.3cm"/>
 </style:style>
 <style:style style:name="Cell" style:family="table-cell">
  <style:table-cell-properties fo:padding="0.06cm" fo:border="0.5pt solid #000000"/>
 </style:style>
 {{styles}}
</office:automatic-styles>
<office:master-styles>
 <style:master-page style:name="Standard" style:page-layout-name="Page">
  <style:header><text:p text:style-name="HeaderFooter">{{header}}<text:tab/>Side <text:page-number
   text:select-page="current">1</text:page-number> af <text:page-count>1</text:page-count></text:p></style:header>
  <style:footer><text:p text:style-name="HeaderFooter">{{footer}}</text:p></style:footer>
 </style:master-page>
</office:master-styles>
<office:body><office:text>
{{body}}
</office:text></office:body>
</office:document>
"""
