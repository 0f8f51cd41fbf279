// A number's Cloud API registration as the number routes and status answer it: never the PIN,
// only whether one is set.
import type { NumberRegistration } from '../../services/registration.js';
import { registrationView, type RegistrationView } from '../../store/registration.js';

export function numberRegistrationView({ number, budget }: NumberRegistration): RegistrationView {
  return registrationView(number, budget);
}
