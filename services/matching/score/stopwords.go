package score

import "strings"

// The stop word lists are Snowball's (snowballstem.org/algorithms/*/stop.txt),
// the lists the stemmers were designed with: function words that carry no
// subject and would otherwise match every document.
var (
	stopEN = set(`a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves s t`)
	stopDE = set(`aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes anderm
andern anderr anders auch auf aus bei bin bis bist da damit dann das dass daß dasselbe dazu dein deine deinem deinen
deiner deines dem demselben den denn denselben der derer derselbe derselben des desselben dessen dich die dies diese
dieselbe dieselben diesem diesen dieser dieses dir doch dort du durch ein eine einem einen einer eines einig einige
einigem einigen einiger einiges einmal er es etwas euch euer eure eurem euren eurer eures für gegen gewesen hab habe
haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in indem ins ist jede
jedem jeden jeder jedes jene jenem jenen jener jenes jetzt kann kein keine keinem keinen keiner keines können könnte
machen man manche manchem manchen mancher manches mein meine meinem meinen meiner meines mich mir mit muss musste
nach nicht nichts noch nun nur ob oder ohne sehr sein seine seinem seinen seiner seines selbst sich sie sind so
solche solchem solchen solcher solches soll sollte sondern sonst über um und uns unsere unserem unseren unser unseres
unter viel vom von vor während war waren warst was weg weil weiter welche welchem welchen welcher welches wenn werde
werden wie wieder will wir wird wirst wo wollen wollte würde würden zu zum zur zwar zwischen`)
)

// procedural holds, per language, the stems of the words that name the
// act of procuring rather than what is procured: every award notice says
// "contract", "lot" and "provision of", so they tie a need to vendors
// through the form of their notices, not through their subject. They are
// analysed like stop words; the subject around them is not. "Procurement",
// "tender", "Vergabe" and "Ausschreibung" stay words: e-procurement is a
// subject of its own ("E-Vergabe", "tender management"), and leaving them
// out made no difference on the evaluation sets.
var procedural = map[Language]map[string]bool{
	English: stems(English, `award contract contractor lot framework notice provision
supply service agreement requirement`),
	German: stems(German, `Auftrag Leistung Los Rahmenvertrag`),
}

// stems returns the set of the stems of the words in s.
func stems(lang Language, s string) map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(strings.ToLower(s)) {
		m[stem(lang, w)] = true
	}
	return m
}

func set(s string) map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}
