/**
 * Random container names in the manner of Podman's (Docker's
 * namesgenerator): `adjective_surname`, from small fixed lists.
 */
import { randomInt } from 'node:crypto';

const ADJECTIVES = [
  'admiring', 'affectionate', 'amazing', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming', 'clever',
  'compassionate', 'competent', 'condescending', 'confident', 'cool', 'dazzling', 'determined', 'eager', 'ecstatic',
  'elastic', 'elegant', 'epic', 'exciting', 'fervent', 'festive', 'focused', 'friendly', 'gallant', 'gifted',
  'goofy', 'gracious', 'happy', 'hopeful', 'inspiring', 'intelligent', 'jolly', 'keen', 'kind', 'laughing',
  'loving', 'lucid', 'magical', 'modest', 'nice', 'nifty', 'nostalgic', 'optimistic', 'peaceful', 'pensive',
  'practical', 'quirky', 'relaxed', 'romantic', 'serene', 'sharp', 'stoic', 'sweet', 'tender', 'trusting',
  'upbeat', 'vibrant', 'vigilant', 'wizardly', 'wonderful', 'youthful', 'zealous', 'zen',
];

const SURNAMES = [
  'agnesi', 'albattani', 'allen', 'archimedes', 'babbage', 'bardeen', 'bartik', 'bell', 'bhabha', 'boole',
  'borg', 'bose', 'brahmagupta', 'cerf', 'chandrasekhar', 'curie', 'darwin', 'dijkstra', 'einstein', 'elion',
  'euclid', 'euler', 'faraday', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gauss', 'goldberg',
  'goodall', 'hamilton', 'hawking', 'heisenberg', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth', 'lamarr',
  'lovelace', 'meitner', 'mendel', 'newton', 'noether', 'pascal', 'payne', 'perlman', 'ritchie', 'shannon',
  'sinoussi', 'thompson', 'tesla', 'torvalds', 'turing', 'wilson', 'wozniak', 'yalow',
];

/** A random `adjective_surname`. */
export function randomName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
}
